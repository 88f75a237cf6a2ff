"""params.yaml -> one frozen, typed config.

Why a hand-rolled loader: the config is the contract between DVC (which tracks params.yaml keys),
the CLI and the library.  A typo in params.yaml must fail loudly, naming the key and the file,
instead of silently falling back to a default.  Classes elsewhere never read this object's file;
stages unpack the fields they need and pass them as keyword arguments.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

import yaml

from avsal.errors import AvsalError

__all__ = [
    "ConfigError",
    "Config",
    "PathsConfig",
    "ProjectConfig",
    "SynthConfig",
    "FixationSetSynth",
    "AVEConfig",
    "DatasetsConfig",
    "PrepareConfig",
    "ValidationConfig",
    "load_config",
    "apply_overrides",
    "from_dict",
    "FIXATION_SETS",
    "TuneConfig",
    "ParamSpec",
    "param_type",
]

#: canonical set name -> folder / fold-list prefix used by the STAViS release.
FIXATION_SETS: dict[str, str] = {
    "AVAD": "AVAD",
    "DIEM": "DIEM",
    "SumMe": "SumMe",
    "ETMD": "ETMD_av",
    "Coutrot1": "Coutrot_db1",
    "Coutrot2": "Coutrot_db2",
}


class ConfigError(AvsalError, ValueError):
    """A params file does not match the typed config (unknown/missing key, wrong type)."""


@dataclass(frozen=True)
class ProjectConfig:
    name: str
    seed: int


@dataclass(frozen=True)
class PathsConfig:
    """Every path the pipeline touches, declared once and templated into dvc.yaml."""

    data: str
    ave_root: str
    fixation_root: str
    artifacts: str
    reports: str
    mlflow_db: str
    mlflow_artifacts: str
    published: str  # the paper's published tables (CSV), beside which the report prints ours


@dataclass(frozen=True)
class FixationSetSynth:
    """Statistics of one synthetic eye-tracking set (the six sets differ on purpose)."""

    videos: int
    frames: int
    fps: float
    width: int
    height: int
    observers: int
    p_sounding: float  # probability an observer looks at the sounding object's unique part
    p_distractor: float  # probability an observer looks at a moving distractor
    centre_bias: float  # std of the centre-bias fixations, as a fraction of the frame diagonal
    persistence: float  # probability an observer keeps its previous target
    unseen_categories: bool  # use categories never seen in training (Coutrot2's place)
    folds: int


@dataclass(frozen=True)
class SynthConfig:
    seed: int
    categories: tuple[str, ...]
    unseen_categories: tuple[str, ...]
    clips_per_category: int
    two_label_clips: int
    clip_seconds: int
    fps: float
    width: int
    height: int
    audio_rate: int
    off_tag_audio_fraction: float
    distractors: tuple[int, int]
    moving_distractor_fraction: float
    silent_part_fraction: float  # clips that also show a silent object of another category
    split_fractions: tuple[float, float, float]
    fixation_sets: dict[str, FixationSetSynth]


@dataclass(frozen=True)
class AVEConfig:
    """The training categories; label indices follow this declared order."""

    categories: tuple[str, ...]


@dataclass(frozen=True)
class PrepareConfig:
    """How clips are decoded once into the cache (the profile's fps and frame size)."""

    fps: float
    size: tuple[int, int]  # [H, W] of cached frames; nets resize/crop from here
    audio_variant: Literal["paper", "official"]  # 1 s log-mel (paper) | 0.5 s 257x48 (released code)
    shard_clips: int
    workers: int


@dataclass(frozen=True)
class DatasetsConfig:
    """Which eye-tracking sets the pipeline evaluates on (canonical names)."""

    fixation_sets: tuple[str, ...]


@dataclass(frozen=True)
class ValidationConfig:
    min_clip_seconds: float
    min_audio_seconds: float
    min_fps: float
    max_fps: float
    min_fixations_per_frame: int
    min_frames_with_fixations: float  # fraction of frames per video that must carry fixations
    min_informative_pseudo: float  # fraction of frames whose pseudo-GT must be informative


@dataclass(frozen=True)
class ModelConfig:
    """The visual backbone shared by every net, and the temporal window of ST / STA."""

    backbone: str  # vgg16 (paper) | resnext101_32x8d (released code) | resnet18 | tiny
    pretrained: bool  # torchvision ImageNet weights (needs network) unless weights_path is set
    weights_path: str | None  # a local state_dict file for the backbone
    clip_frames: int  # neighbouring frames the 3D convolution sees (odd)
    audio_widths: tuple[int, ...]  # channels of the spectrogram CNN (audio flow, tagger)


@dataclass(frozen=True)
class TrainSpec:
    """Optimisation of one net (the paper: SGD, lr 1e-3)."""

    epochs: int
    batch_size: int
    lr: float
    optimizer: Literal["sgd", "adam", "adamw"]
    momentum: float
    weight_decay: float


@dataclass(frozen=True)
class ClsStageConfig:
    """One SCAM stage (coarse or fine): the input size and how S, ST and SA are trained."""

    input_size: tuple[int, int]
    train: TrainSpec


@dataclass(frozen=True)
class TaggerConfig:
    """Where audio-switch labels come from (Sec. 3.7)."""

    source: Literal["trained", "file"]  # trained: audio-only net on AVE tags | file: external predictions
    predictions_file: str | None  # CSV video_id,second,label (e.g. from VGGSound) when source=file
    folds: int  # trained tagger: out-of-fold predictions, so no clip is tagged by a net that saw it
    train: TrainSpec


@dataclass(frozen=True)
class SwitchConfig:
    enabled: bool  # False: phi(A) = A in SA and STA (the ablation without the audio switch)
    train: TrainSpec


@dataclass(frozen=True)
class ScamConfig:
    rule: Literal["paper", "official", "average"]  # Eq. 2+3 | released code (no Eq. 3) | SCAM_avg
    lam: float  # lambda of Eq. 2
    crop_k: float  # coarse map binarised at crop_k x mean for the crop box (paper: 2)
    temporal_postprocess: bool  # released code: window average then zero below post_mult x mean
    post_window: int
    post_mult: float


@dataclass(frozen=True)
class STAConfig:
    input_size: tuple[int, int]
    decoder_channels: tuple[int, int]  # the first two of the three deconvolutions
    audio_switch: bool
    train: TrainSpec


@dataclass(frozen=True)
class RuntimeConfig:
    device: str  # auto | cpu | cuda
    num_workers: int  # DataLoader workers
    infer_batch_size: int
    cpu_numerics: Literal["portable", "native"]  # portable: the same bytes on any x86-64 CPU (avsal.utils.numerics) | native
    cpu_threads: int  # intra-op threads of a portable CPU process (results depend on it)


@dataclass(frozen=True)
class EvaluateConfig:
    fold: int  # reporting split = the test list of this fold; tuning split = its train list
    blur_sigma: float  # px at GT resolution (STAViS protocol: 2)
    s_auc_splits: int
    s_auc_step: float
    seed: int


#: metric names the tuning objective may combine (avsal.metrics.engine.METRICS; checked in tests)
TUNE_METRICS = ("auc_judd", "sim", "auc_shuffled", "cc", "nss", "kld")
#: sections whose scalar params a campaign may tune or fix (the method and its evaluation)
TUNABLE_SECTIONS = ("model", "coarse", "fine", "tagger", "audio_switch", "scam", "sta", "evaluate")


@dataclass(frozen=True)
class ParamSpec:
    """One dimension of the search space (``tune.space``), keyed by the param's dotted path."""

    type: Literal["float", "int", "categorical"]
    low: float | None = None
    high: float | None = None
    log: bool = False  # sample on a log scale (float/int; low > 0)
    step: float | None = None  # a grid step (float/int; not with log)
    choices: tuple[Any, ...] | None = None  # categorical: scalars of the param's type


@dataclass(frozen=True)
class TuneSplit:
    """The TUNING split: one side of one fold of every fixation set's fold lists.

    The REPORTING split is ``evaluate.fold``'s test side; a campaign whose tuning videos overlap
    the reporting videos is refused.
    """

    fold: int = 1
    side: Literal["train", "test"] = "train"


@dataclass(frozen=True)
class TuneObjective:
    metrics: tuple[str, ...] = ("cc", "nss")  # mean over these (per set), then over the sets
    direction: Literal["maximize", "minimize"] = "maximize"


@dataclass(frozen=True)
class TuneSampler:
    name: Literal["tpe", "random"] = "tpe"
    seed: int = 0  # worker k samples with seed + k
    n_startup_trials: int = 8  # random trials before TPE models the space


@dataclass(frozen=True)
class TunePruner:
    """Stops bad trials early from the per-epoch tuning objective of STA."""

    name: Literal["median", "hyperband", "none"] = "median"
    n_startup_trials: int = 3  # median: no pruning before this many finished trials
    n_warmup_steps: int = 1  # median: no pruning before this STA epoch


@dataclass(frozen=True)
class TuneConfig:
    """Optuna campaigns (``avsal tune``); not a dvc.yaml stage.  Optional: older configs load."""

    objective: TuneObjective = field(default_factory=TuneObjective)
    split: TuneSplit = field(default_factory=TuneSplit)
    sets: tuple[str, ...] = ()  # fixation sets scored for tuning; [] = datasets.fixation_sets
    storage: str | None = None  # null: sqlite:///<artifacts>/tune/optuna.db | journal:<file> | postgresql://...
    sampler: TuneSampler = field(default_factory=TuneSampler)
    pruner: TunePruner = field(default_factory=TunePruner)
    heartbeat_interval: int = 10  # s between a running trial's heartbeats (RDB storages)
    grace_period: int = 30  # s without a heartbeat before a trial counts as dead (failed, retried)
    max_retry: int = 2  # retries of a trial whose worker died
    fixed: dict[str, Any] = field(default_factory=dict)  # dotted key -> value for every trial, not tuned
    space: dict[str, ParamSpec] = field(default_factory=dict)  # dotted key -> its range


@dataclass(frozen=True)
class Config:
    project: ProjectConfig
    paths: PathsConfig
    synth: SynthConfig
    ave: AVEConfig
    prepare: PrepareConfig
    datasets: DatasetsConfig
    validation: ValidationConfig
    model: ModelConfig
    coarse: ClsStageConfig
    fine: ClsStageConfig
    tagger: TaggerConfig
    audio_switch: SwitchConfig
    scam: ScamConfig
    sta: STAConfig
    runtime: RuntimeConfig
    evaluate: EvaluateConfig
    tune: TuneConfig = field(default_factory=TuneConfig)  # optional: configs recorded before it load
    params_file: str = field(default="<dict>", compare=False, metadata={"internal": True})

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out.pop("params_file", None)
        return out


# --------------------------------------------------------------------------------------------
# generic strict conversion


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def _convert(value: Any, tp: Any, where: str, source: str) -> Any:
    origin = get_origin(tp)
    args = get_args(tp)
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ConfigError(f"{source}: '{where}' must be a mapping, got {type(value).__name__}")
        return from_dict(tp, value, where=where, source=source)
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _convert(value, arg, where, source)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(f"{source}: '{where}' = {value!r} matches none of {_type_name(tp)}")
    if origin is Literal:
        if value not in args:
            raise ConfigError(f"{source}: '{where}' = {value!r}, expected one of {list(args)}")
        return value
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{source}: '{where}' must be a list, got {value!r}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_convert(v, args[0], f"{where}[{i}]", source) for i, v in enumerate(value))
        if len(value) != len(args):
            raise ConfigError(f"{source}: '{where}' must have {len(args)} items, got {len(value)}")
        return tuple(_convert(v, a, f"{where}[{i}]", source) for i, (v, a) in enumerate(zip(value, args)))
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{source}: '{where}' must be a mapping, got {value!r}")
        kt, vt = args
        return {
            _convert(k, kt, f"{where}", source): _convert(v, vt, f"{where}.{k}", source)
            for k, v in value.items()
        }
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{source}: '{where}' must be a number, got {value!r}")
        return float(value)
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{source}: '{where}' must be an integer, got {value!r}")
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{source}: '{where}' must be true or false, got {value!r}")
        return value
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{source}: '{where}' must be a string, got {value!r}")
        return value
    if tp is Any:
        return value
    raise ConfigError(f"{source}: '{where}': unsupported config type {tp!r}")  # pragma: no cover


def from_dict(cls: type, data: dict[str, Any], *, where: str = "", source: str = "<dict>") -> Any:
    """Build dataclass ``cls`` from ``data``; unknown or missing keys raise ConfigError."""
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init and not f.metadata.get("internal")}
    prefix = f"{where}." if where else ""
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ConfigError(
            f"{source}: unknown key(s) {', '.join(prefix + k for k in unknown)}; "
            f"allowed here: {', '.join(sorted(fields))}"
        )
    kwargs = {}
    for name, f in fields.items():
        if name not in data:
            has_default = f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING
            if has_default:
                continue
            raise ConfigError(f"{source}: missing key '{prefix}{name}'")
        kwargs[name] = _convert(data[name], hints[name], prefix + name, source)
    return cls(**kwargs)


def parse_overrides(items: Sequence[str]) -> dict[str, Any]:
    """``-S key.sub=value`` pairs (values parsed as YAML, as ``dvc exp run -S`` does)."""
    out = {}
    for item in items:
        if "=" not in item:
            raise ConfigError(f"-S expects key=value, got '{item}'")
        k, v = item.split("=", 1)
        out[k.strip()] = yaml.safe_load(v)
    return out


def apply_overrides(raw: dict[str, Any], overrides: dict[str, Any], *, source: str) -> None:
    """Set dotted-key ``overrides`` (``-S`` flags, tuned params) in a raw params mapping, in place.

    Only existing keys may be set: a typo is an error naming ``source`` and the key.
    """
    for dotted, value in overrides.items():
        node = raw
        *parents, leaf = dotted.split(".")
        for p in parents:
            if not isinstance(node.get(p), dict):
                raise ConfigError(f"{source}: override '{dotted}': '{p}' is not a section")
            node = node[p]
        if leaf not in node:
            raise ConfigError(f"{source}: override '{dotted}': unknown key '{leaf}'")
        node[leaf] = value


def load_config(path: str | Path = "params.yaml", overrides: dict[str, Any] | None = None) -> Config:
    """Read params.yaml (plus dotted-key ``overrides``) into a frozen :class:`Config`."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: params file not found")
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: top level must be a mapping")
    apply_overrides(raw, overrides or {}, source=str(path))
    cfg = from_dict(Config, raw, source=str(path))
    cfg = dataclasses.replace(cfg, params_file=str(path))
    _check(cfg)
    return cfg


def deep_merge(base: dict[str, Any], overrides: dict[str, Any], *, where: str = "", source: str = "<profile>") -> dict[str, Any]:
    """``base`` with ``overrides`` merged in, key by key; a key unknown to ``base`` is an error.

    Mappings merge recursively (a section keeps the keys a profile does not mention), except
    ``synth.fixation_sets``, which a profile replaces whole (it chooses the sets).
    """
    out = dict(base)
    for k, v in overrides.items():
        path = f"{where}.{k}" if where else k
        if k not in base:
            raise ConfigError(f"{source}: unknown key '{path}'")
        if isinstance(v, dict) and isinstance(base[k], dict) and path != "synth.fixation_sets":
            out[k] = deep_merge(base[k], v, where=path, source=source)
        else:
            out[k] = v
    return out


def load_profile(params: str | Path, profile: str | Path) -> dict[str, Any]:
    """params.yaml merged with a profile file (e.g. ``profiles/paper.yaml``), validated."""
    base = yaml.safe_load(Path(params).read_text())
    prof = yaml.safe_load(Path(profile).read_text()) or {}
    merged = deep_merge(base, prof, source=str(profile))
    cfg = from_dict(Config, merged, source=f"{params} + {profile}")
    _check(dataclasses.replace(cfg, params_file=f"{params} + {profile}"))
    return merged


def profile_overrides(profile: str | Path) -> list[str]:
    """A profile as ``key.path=value`` strings for ``dvc exp run -S`` (leaves only)."""
    prof = yaml.safe_load(Path(profile).read_text()) or {}
    out: list[str] = []

    def walk(prefix: str, node: Any) -> None:
        if isinstance(node, dict) and prefix != "synth.fixation_sets":
            for k, v in node.items():
                walk(f"{prefix}.{k}" if prefix else k, v)
        else:
            out.append(f"{prefix}={json.dumps(node)}")

    walk("", prof)
    return out


def _check(cfg: Config) -> None:
    """Cross-field rules that types alone cannot express."""
    src = cfg.params_file
    for field_name, names in (("synth.fixation_sets", cfg.synth.fixation_sets), ("datasets.fixation_sets", cfg.datasets.fixation_sets)):
        bad = sorted(set(names) - set(FIXATION_SETS))
        if bad:
            raise ConfigError(f"{src}: {field_name}: unknown set(s) {bad}; known: {list(FIXATION_SETS)}")
    overlap = set(cfg.synth.categories) & set(cfg.synth.unseen_categories)
    if overlap:
        raise ConfigError(f"{src}: synth.unseen_categories overlap synth.categories: {sorted(overlap)}")
    if abs(sum(cfg.synth.split_fractions) - 1.0) > 1e-6:
        raise ConfigError(f"{src}: synth.split_fractions must sum to 1, got {cfg.synth.split_fractions}")
    if cfg.model.clip_frames < 1 or cfg.model.clip_frames % 2 == 0:
        raise ConfigError(f"{src}: model.clip_frames must be odd and >= 1, got {cfg.model.clip_frames}")
    if cfg.tagger.source == "file" and not cfg.tagger.predictions_file:
        raise ConfigError(f"{src}: tagger.source is 'file' but tagger.predictions_file is empty")
    if cfg.tagger.folds < 2:
        raise ConfigError(f"{src}: tagger.folds must be >= 2 (out-of-fold predictions)")
    lo, hi = cfg.synth.distractors
    if not 0 <= lo <= hi:
        raise ConfigError(f"{src}: synth.distractors must be [min, max] with 0 <= min <= max")
    if cfg.runtime.cpu_threads < 1:
        raise ConfigError(f"{src}: runtime.cpu_threads must be >= 1, got {cfg.runtime.cpu_threads}")
    _check_tune(cfg)


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
    src, t = cfg.params_file, cfg.tune
    bad = [m for m in t.objective.metrics if m not in TUNE_METRICS]
    if not t.objective.metrics or bad:
        raise ConfigError(f"{src}: tune.objective.metrics must name metrics of {list(TUNE_METRICS)}, got {list(t.objective.metrics)}")
    if t.split.fold < 1:
        raise ConfigError(f"{src}: tune.split.fold must be >= 1, got {t.split.fold}")
    if t.split.fold == cfg.evaluate.fold and t.split.side == "test":
        raise ConfigError(
            f"{src}: tune.split (fold {t.split.fold}, test) is the reporting split (evaluate.fold's test side); "
            "tune on the other side of the fold (side: train)"
        )
    unknown = sorted(set(t.sets) - set(cfg.datasets.fixation_sets))
    if unknown:
        raise ConfigError(f"{src}: tune.sets {unknown} are not in datasets.fixation_sets {list(cfg.datasets.fixation_sets)}")
    if t.storage is not None and not (t.storage.startswith("journal:") or "://" in t.storage):
        raise ConfigError(f"{src}: tune.storage must be null, journal:<file> or a database URL (sqlite:///..., postgresql://...), got {t.storage!r}")
    if t.heartbeat_interval < 1 or t.grace_period <= t.heartbeat_interval:
        raise ConfigError(f"{src}: tune needs heartbeat_interval >= 1 and grace_period > heartbeat_interval")
    if t.max_retry < 0 or t.sampler.n_startup_trials < 0 or t.pruner.n_startup_trials < 0 or t.pruner.n_warmup_steps < 0:
        raise ConfigError(f"{src}: tune.max_retry, sampler.n_startup_trials and pruner.* must be >= 0")
    both = sorted(set(t.fixed) & set(t.space))
    if both:
        raise ConfigError(f"{src}: tune.fixed and tune.space both name {both}")
    for section, keys in (("fixed", t.fixed), ("space", t.space)):
        for key in keys:
            where = f"tune.{section}.{key}"
            if key.split(".")[0] not in TUNABLE_SECTIONS or key == "evaluate.fold":
                raise ConfigError(f"{src}: {where}: only params of {list(TUNABLE_SECTIONS)} (not evaluate.fold) can be tuned or fixed")
            try:
                tp = param_type(key)
            except KeyError:
                raise ConfigError(f"{src}: {where}: '{key}' is not a param of the config") from None
            if section == "fixed":
                _convert(t.fixed[key], tp, where, src)
            else:
                _check_spec(t.space[key], tp, where, src)


def _check_spec(spec: ParamSpec, tp: Any, where: str, src: str) -> None:
    if not _scalar_type(tp):
        raise ConfigError(f"{src}: {where}: only scalar params can be tuned (this one is {_type_name(tp)})")
    if spec.type == "categorical":
        if not spec.choices or spec.low is not None or spec.high is not None or spec.log or spec.step is not None:
            raise ConfigError(f"{src}: {where}: a categorical range needs 'choices' (a non-empty list) and nothing else")
        for i, c in enumerate(spec.choices):
            if not (c is None or isinstance(c, (bool, int, float, str))):
                raise ConfigError(f"{src}: {where}.choices[{i}] = {c!r}: choices must be scalars")
            _convert(c, tp, f"{where}.choices[{i}]", src)
        if len(set(map(repr, spec.choices))) != len(spec.choices):
            raise ConfigError(f"{src}: {where}: duplicate choices {list(spec.choices)}")
        return
    base = tp if get_origin(tp) not in (Union, types.UnionType) else next(a for a in get_args(tp) if a is not type(None))
    if spec.type == "float" and base is not float or spec.type == "int" and base is not int:
        raise ConfigError(f"{src}: {where}: a '{spec.type}' range does not fit a param of type {_type_name(tp)} (use categorical choices)")
    if spec.choices is not None or spec.low is None or spec.high is None:
        raise ConfigError(f"{src}: {where}: a '{spec.type}' range needs 'low' and 'high' (and no 'choices')")
    if not spec.low < spec.high:
        raise ConfigError(f"{src}: {where}: low ({spec.low}) must be below high ({spec.high})")
    if spec.log and spec.low <= 0:
        raise ConfigError(f"{src}: {where}: a log range needs low > 0")
    if spec.log and spec.step is not None:
        raise ConfigError(f"{src}: {where}: 'step' and 'log' exclude each other")
    if spec.step is not None and spec.step <= 0:
        raise ConfigError(f"{src}: {where}: step must be > 0")
    if spec.type == "int" and any(v is not None and float(v) != int(v) for v in (spec.low, spec.high, spec.step)):
        raise ConfigError(f"{src}: {where}: an 'int' range needs integer low/high/step")
