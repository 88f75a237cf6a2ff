"""Semantic checks: the cross-field rules, and the tuning space against the schema.

Why separate from the conversion: a converted config is well typed, but only these rules know
that, e.g., ``model.clip_frames`` must be odd or that a ``tune.space`` range must fit the type
of the param it samples.  Every way to build a :class:`Config` from params (a file, a profile,
overrides) ends here, so the same config is refused the same way whatever its origin.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any, Literal, Union, get_args, get_origin

from avsal.config.convert import convert, type_name
from avsal.config.schema import FIXATION_SETS, Config, ConfigError, ParamSpec

__all__ = ["TUNABLE_SECTIONS", "check", "param_type"]

#: sections whose scalar params a campaign may tune or fix (the method and its evaluation)
TUNABLE_SECTIONS = ("model", "coarse", "fine", "tagger", "audio_switch", "scam", "sta", "evaluate")


def check(cfg: Config) -> None:
    """Cross-field rules that types alone cannot express; ConfigError naming ``cfg.params_file``."""
    src = cfg.params_file
    for field_name, names in (
        ("synth.fixation_sets", cfg.synth.fixation_sets),
        ("datasets.fixation_sets", cfg.datasets.fixation_sets),
    ):
        bad = sorted(set(names) - set(FIXATION_SETS))
        if bad:
            raise ConfigError(
                f"{src}: {field_name}: unknown set(s) {bad}; known: {list(FIXATION_SETS)}"
            )
    overlap = set(cfg.synth.categories) & set(cfg.synth.unseen_categories)
    if overlap:
        raise ConfigError(
            f"{src}: synth.unseen_categories overlap synth.categories: {sorted(overlap)}"
        )
    if abs(sum(cfg.synth.split_fractions) - 1.0) > 1e-6:
        raise ConfigError(
            f"{src}: synth.split_fractions must sum to 1, got {cfg.synth.split_fractions}"
        )
    for i, f in enumerate(cfg.synth.formats):
        if f.width % 2 or f.height % 4 or f.fps <= 0 or f.share <= 0:
            raise ConfigError(
                f"{src}: synth.formats[{i}] needs an even width, a height divisible by 4 (the "
                f"writer's 4:2:0 planes) and positive fps and share, got {f}"
            )
    if cfg.model.clip_frames < 1 or cfg.model.clip_frames % 2 == 0:
        raise ConfigError(
            f"{src}: model.clip_frames must be odd and >= 1, got {cfg.model.clip_frames}"
        )
    if cfg.tagger.source == "file" and not cfg.tagger.predictions_file:
        raise ConfigError(f"{src}: tagger.source is 'file' but tagger.predictions_file is empty")
    if cfg.tagger.folds < 2:
        raise ConfigError(f"{src}: tagger.folds must be >= 2 (out-of-fold predictions)")
    lo, hi = cfg.synth.distractors
    if not 0 <= lo <= hi:
        raise ConfigError(f"{src}: synth.distractors must be [min, max] with 0 <= min <= max")
    if cfg.runtime.cpu_threads < 1:
        raise ConfigError(f"{src}: runtime.cpu_threads must be >= 1, got {cfg.runtime.cpu_threads}")
    _check_claims(cfg)
    _check_tune(cfg)


def _check_claims(cfg: Config) -> None:
    from avsal.metric_names import METRICS

    src, c = cfg.params_file, cfg.claims
    bad = [m for m in c.metrics if m not in METRICS]
    if not c.metrics or bad:
        raise ConfigError(
            f"{src}: claims.metrics must name metrics of {list(METRICS)}, got {list(c.metrics)}"
        )
    if c.resamples < 100:
        raise ConfigError(f"{src}: claims.resamples must be >= 100, got {c.resamples}")
    if not 0.5 <= c.level < 1:
        raise ConfigError(f"{src}: claims.level must be in [0.5, 1), got {c.level}")
    if c.min_videos < 2:
        raise ConfigError(
            f"{src}: claims.min_videos must be >= 2 (one video has no spread), got {c.min_videos}"
        )


def param_type(key: str) -> Any:
    """The declared type of the leaf param ``key`` (dotted) of :class:`Config`; KeyError if none."""
    tp: Any = Config
    for part in key.split("."):
        if not dataclasses.is_dataclass(tp):
            raise KeyError(key)
        hints = typing.get_type_hints(tp)
        names = {f.name for f in dataclasses.fields(tp) if not f.metadata.get("internal")}
        if part not in names:
            raise KeyError(key)
        tp = hints[part]
    if dataclasses.is_dataclass(tp):
        raise KeyError(key)  # a section, not a param
    return tp


def _scalar_type(tp: Any) -> bool:
    """float/int/bool/str, a Literal, or one of them | None: what Optuna can suggest."""
    origin = get_origin(tp)
    if origin in (Union, types.UnionType):
        return all(a is type(None) or _scalar_type(a) for a in get_args(tp))
    return tp in (float, int, bool, str) or origin is Literal


def _check_tune(cfg: Config) -> None:
    """``tune:``: objective, splits, storage, and every key/range of ``fixed`` and ``space``."""
    # here, not at module level: the one list of metric names lives with the metrics, and
    # ``import avsal.config`` must not import the avsal.metrics package (it imports torch)
    from avsal.metric_names import METRICS

    src, t = cfg.params_file, cfg.tune
    bad = [m for m in t.objective.metrics if m not in METRICS]
    if not t.objective.metrics or bad:
        raise ConfigError(
            f"{src}: tune.objective.metrics must name metrics of {list(METRICS)}, got {list(t.objective.metrics)}"
        )
    if t.split.fold < 1:
        raise ConfigError(f"{src}: tune.split.fold must be >= 1, got {t.split.fold}")
    if t.split.fold == cfg.evaluate.fold and t.split.side == "test":
        raise ConfigError(
            f"{src}: tune.split (fold {t.split.fold}, test) is the reporting split (evaluate.fold's test side); "
            "tune on the other side of the fold (side: train)"
        )
    unknown = sorted(set(t.sets) - set(cfg.datasets.fixation_sets))
    if unknown:
        raise ConfigError(
            f"{src}: tune.sets {unknown} are not in datasets.fixation_sets {list(cfg.datasets.fixation_sets)}"
        )
    if t.storage is not None and not (t.storage.startswith("journal:") or "://" in t.storage):
        raise ConfigError(
            f"{src}: tune.storage must be null, journal:<file> or a database URL (sqlite:///..., postgresql://...), got {t.storage!r}"
        )
    if t.heartbeat_interval < 1 or t.grace_period <= t.heartbeat_interval:
        raise ConfigError(
            f"{src}: tune needs heartbeat_interval >= 1 and grace_period > heartbeat_interval"
        )
    if (
        t.max_retry < 0
        or t.sampler.n_startup_trials < 0
        or t.pruner.n_startup_trials < 0
        or t.pruner.n_warmup_steps < 0
    ):
        raise ConfigError(
            f"{src}: tune.max_retry, sampler.n_startup_trials and pruner.* must be >= 0"
        )
    both = sorted(set(t.fixed) & set(t.space))
    if both:
        raise ConfigError(f"{src}: tune.fixed and tune.space both name {both}")
    for section, keys in (("fixed", t.fixed), ("space", t.space)):
        for key in keys:
            where = f"tune.{section}.{key}"
            if key.split(".")[0] not in TUNABLE_SECTIONS or key == "evaluate.fold":
                raise ConfigError(
                    f"{src}: {where}: only params of {list(TUNABLE_SECTIONS)} (not evaluate.fold) can be tuned or fixed"
                )
            try:
                tp = param_type(key)
            except KeyError:
                raise ConfigError(f"{src}: {where}: '{key}' is not a param of the config") from None
            if section == "fixed":
                convert(t.fixed[key], tp, where, src)
            else:
                _check_spec(t.space[key], tp, where, src)


def _check_spec(spec: ParamSpec, tp: Any, where: str, src: str) -> None:
    """One ``tune.space`` range against the declared type ``tp`` of the param it samples."""
    if not _scalar_type(tp):
        raise ConfigError(
            f"{src}: {where}: only scalar params can be tuned (this one is {type_name(tp)})"
        )
    if spec.type == "categorical":
        if (
            not spec.choices
            or spec.low is not None
            or spec.high is not None
            or spec.log
            or spec.step is not None
        ):
            raise ConfigError(
                f"{src}: {where}: a categorical range needs 'choices' (a non-empty list) and nothing else"
            )
        for i, c in enumerate(spec.choices):
            if not (c is None or isinstance(c, (bool, int, float, str))):
                raise ConfigError(f"{src}: {where}.choices[{i}] = {c!r}: choices must be scalars")
            convert(c, tp, f"{where}.choices[{i}]", src)
        if len(set(map(repr, spec.choices))) != len(spec.choices):
            raise ConfigError(f"{src}: {where}: duplicate choices {list(spec.choices)}")
        return
    base = (
        tp
        if get_origin(tp) not in (Union, types.UnionType)
        else next(a for a in get_args(tp) if a is not type(None))
    )
    if spec.type == "float" and base is not float or spec.type == "int" and base is not int:
        raise ConfigError(
            f"{src}: {where}: a '{spec.type}' range does not fit a param of type {type_name(tp)} (use categorical choices)"
        )
    if spec.choices is not None or spec.low is None or spec.high is None:
        raise ConfigError(
            f"{src}: {where}: a '{spec.type}' range needs 'low' and 'high' (and no 'choices')"
        )
    if not spec.low < spec.high:
        raise ConfigError(f"{src}: {where}: low ({spec.low}) must be below high ({spec.high})")
    if spec.log and spec.low <= 0:
        raise ConfigError(f"{src}: {where}: a log range needs low > 0")
    if spec.log and spec.step is not None:
        raise ConfigError(f"{src}: {where}: 'step' and 'log' exclude each other")
    if spec.step is not None and spec.step <= 0:
        raise ConfigError(f"{src}: {where}: step must be > 0")
    if spec.type == "int" and any(
        v is not None and float(v) != int(v) for v in (spec.low, spec.high, spec.step)
    ):
        raise ConfigError(f"{src}: {where}: an 'int' range needs integer low/high/step")
