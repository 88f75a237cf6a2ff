"""Stage tune (outside ``dvc repro``; ``make tune`` / ``avsal tune``): an Optuna campaign.

Searches ``tune.space`` for the best fixation score on the tuning split (``tune.split``) and
writes ``<reports>/tune/<study>/best_params.yaml`` for ``dvc exp run -S``; see
:mod:`avsal.tuning` (the only package that imports optuna).
"""

from __future__ import annotations

from typing import Any

from avsal.config import Config

__all__ = ["run", "run_worker"]


def run(cfg: Config, *, study: str, trials: int, workers: int = 1, storage: str | None = None, track: bool = True,
        report: bool = True) -> dict[str, Any]:
    """Run or resume study ``study`` to ``trials`` finished trials with ``workers`` processes.

    Ctrl-C stops it (exit 130); the same command resumes it.  Returns the campaign summary.
    """
    from avsal.tuning import run_campaign

    try:
        return run_campaign(cfg, study=study, trials=trials, workers=workers, storage=storage, track=track, report=report)
    except KeyboardInterrupt:
        raise SystemExit(130) from None


def run_worker(cfg: Config, *, study: str, trials: int, storage: str | None = None, index: int = 0, threads: int = 1,
               track: bool = True) -> dict[str, Any]:
    """One worker process of a campaign (``avsal tune --worker``, started by ``run``)."""
    from avsal.tuning import run_worker as worker

    return worker(cfg, study=study, trials=trials, storage=storage, index=index, threads=threads, track=track)
