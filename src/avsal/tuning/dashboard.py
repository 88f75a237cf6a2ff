"""``make dashboard``: optuna-dashboard over a campaign's storage, on 127.0.0.1 only.

The storage is the one ``avsal tune`` used (``--storage``, else ``tune.storage``, else the
default sqlite file); a ``journal:<file>`` storage is opened read-side as a journal file, a
PostgreSQL URL as it is. The dashboard reads what the workers write, while they run.
"""

from __future__ import annotations

from pathlib import Path

from avsal.config import Config
from avsal.tuning.storage import redact
from avsal.tuning.study import storage_url

__all__ = ["open_for_dashboard", "serve_dashboard"]


def open_for_dashboard(cfg: Config, storage: str | None = None):
    """The Optuna storage object of the campaign (no heartbeats: the dashboard only reads)."""
    import optuna
    from optuna.storages.journal import JournalFileBackend, JournalStorage

    url = storage_url(cfg, storage)
    if url.startswith("journal:"):
        path = Path(url[len("journal:") :])
        if not path.is_file():
            raise FileNotFoundError(f"{path}: journal storage not found (run `make tune` first)")
        return JournalStorage(JournalFileBackend(str(path))), url
    if url.startswith("sqlite:///") and not Path(url[len("sqlite:///") :]).is_file():
        raise FileNotFoundError(
            f"{url[len('sqlite:///') :]}: no campaign storage yet (run `make tune` first)"
        )
    return optuna.storages.RDBStorage(url), url


def serve_dashboard(cfg: Config, *, storage: str | None, study: str | None, port: int) -> None:
    """Serve until interrupted; prints the address (of ``study`` when it exists)."""
    import optuna
    from optuna_dashboard import run_server

    store, url = open_for_dashboard(cfg, storage)
    address = f"http://127.0.0.1:{port}/dashboard"
    if study:
        found = {s.study_name: s._study_id for s in optuna.get_all_study_summaries(store)}
        if study not in found:
            raise KeyError(f"study {study!r} not in {redact(url)} (has {sorted(found)})")
        address += f"/studies/{found[study]}"
    print(f"optuna-dashboard over {redact(url)}: {address}  (Ctrl-C stops)", flush=True)
    run_server(store, host="127.0.0.1", port=port)
