"""The tuning split and the reporting split of the fixation videos, and the overlap refusal.

Both are declared in params.yaml: the REPORTING split is ``evaluate.fold``'s test side (what
``dvc repro``'s evaluate stage reports); the TUNING split is ``tune.split`` (by default the
train side of the same fold).  A campaign scored on a video that is also reported on would
overfit the reported number, so :func:`check_splits` refuses it, naming the videos.
"""

from __future__ import annotations

from pathlib import Path

from avsal.config import Config, ConfigError

__all__ = ["SplitOverlapError", "tuning_sets", "tuning_videos", "reporting_videos", "check_splits"]


class SplitOverlapError(ConfigError):
    """The tuning split shares videos with the reporting split (or is empty)."""


def tuning_sets(cfg: Config) -> list[str]:
    """Fixation sets a campaign scores (``tune.sets``, default every evaluated set)."""
    return list(cfg.tune.sets) or list(cfg.datasets.fixation_sets)


def _videos(cfg: Config, fold: int, side: str, sets: list[str]) -> dict[str, list[str]]:
    from avsal.data.fixations import FixationSet

    root = Path(cfg.paths.fixation_root)
    out = {}
    for name in sets:
        try:
            out[name] = FixationSet(root, name).split_videos(side, fold=fold)
        except ValueError as exc:
            raise ConfigError(f"{cfg.params_file}: {exc}") from None
    return out


def tuning_videos(cfg: Config) -> dict[str, list[str]]:
    """{set: videos} of the tuning split (``tune.split``)."""
    return _videos(cfg, cfg.tune.split.fold, cfg.tune.split.side, tuning_sets(cfg))


def reporting_videos(cfg: Config, sets: list[str] | None = None) -> dict[str, list[str]]:
    """{set: videos} of the reporting split (``evaluate.fold``, test side)."""
    return _videos(cfg, cfg.evaluate.fold, "test", sets or list(cfg.datasets.fixation_sets))


def check_splits(cfg: Config) -> dict[str, dict[str, int]]:
    """Refuse a campaign whose tuning videos overlap the reporting videos; sizes of both."""
    tune = tuning_videos(cfg)
    report = reporting_videos(cfg, list(tune))
    overlap = {s: sorted(set(tune[s]) & set(report[s])) for s in tune}
    overlap = {s: v for s, v in overlap.items() if v}
    where = (
        f"tune.split (fold {cfg.tune.split.fold}, {cfg.tune.split.side}) vs the reporting split "
        f"(evaluate.fold {cfg.evaluate.fold}, test)"
    )
    if overlap:
        shown = "; ".join(
            f"{s}: {', '.join(v[:5])}{' ...' if len(v) > 5 else ''}" for s, v in overlap.items()
        )
        raise SplitOverlapError(
            f"{cfg.params_file}: {where} share videos ({shown}); a campaign must tune on videos that "
            "are never reported: choose another tune.split"
        )
    empty = [s for s, v in tune.items() if not v]
    if empty:
        raise SplitOverlapError(
            f"{cfg.params_file}: {where}: the tuning split has no video in {empty}"
        )
    return {s: {"tuning": len(tune[s]), "reporting": len(report[s])} for s in tune}
