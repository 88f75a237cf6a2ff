"""The schema: one frozen dataclass per params.yaml section, and the error every check raises.

Why dataclasses: the field list and type hints of each class ARE the allowed keys and their
types; :mod:`avsal.config.convert` reads them, so a key exists in exactly one place.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal

from avsal.errors import AvsalError

__all__ = [
    "FIXATION_SETS",
    "ConfigError",
    "ProjectConfig",
    "PathsConfig",
    "FixationSetSynth",
    "ClipFormat",
    "SynthConfig",
    "AVEConfig",
    "PrepareConfig",
    "DatasetsConfig",
    "ValidationConfig",
    "ModelConfig",
    "TrainSpec",
    "ClsStageConfig",
    "TaggerConfig",
    "SwitchConfig",
    "ScamConfig",
    "STAConfig",
    "RuntimeConfig",
    "EvaluateConfig",
    "ClaimsConfig",
    "ParamSpec",
    "TuneSplit",
    "TuneObjective",
    "TuneSampler",
    "TunePruner",
    "TuneConfig",
    "Config",
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


#: field metadata: a param added after results were recorded; while it holds its default (the
#: old behaviour) it is left out of :meth:`Config.to_dict` ``(identity=True)``, so runs recorded
#: before it existed still count as runs with the same params (experiments.replicates)
KEYLESS_DEFAULT = "keyless_default"


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
class ClipFormat:
    """One frame size and rate of synthetic AVE clips (AVE mixes 320x240 .. 1280x720, 17.6 .. 30 fps)."""

    width: int
    height: int
    fps: float
    share: float = 1.0  # relative frequency among the formats


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
    # AVE-like clip formats drawn per clip (the scale world); empty: every clip is width x height
    # at fps, as in the embedded world
    formats: tuple[ClipFormat, ...] = field(default=(), metadata={KEYLESS_DEFAULT: True})


@dataclass(frozen=True)
class AVEConfig:
    """The training categories; label indices follow this declared order."""

    categories: tuple[str, ...]


@dataclass(frozen=True)
class PrepareConfig:
    """How clips are decoded once into the cache (the profile's fps and frame size)."""

    fps: float
    size: tuple[int, int]  # [H, W] of cached frames; nets resize/crop from here
    audio_variant: Literal[
        "paper", "official"
    ]  # 1 s log-mel (paper) | 0.5 s 257x48 (released code)
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

    source: Literal[
        "trained", "file"
    ]  # trained: audio-only net on AVE tags | file: external predictions
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
    cpu_numerics: Literal[
        "portable", "native"
    ]  # portable: the same bytes on any x86-64 CPU (avsal.utils.numerics) | native
    cpu_threads: int  # intra-op threads of a portable CPU process (results depend on it)


@dataclass(frozen=True)
class EvaluateConfig:
    fold: int  # reporting split = the test list of this fold; tuning split = its train list
    blur_sigma: float  # px at GT resolution (STAViS protocol: 2)
    s_auc_splits: int
    s_auc_step: float
    seed: int


@dataclass(frozen=True)
class ClaimsConfig:
    """How the claimed orderings are decided (stage claims; README "Claims")."""

    metrics: tuple[str, ...] = ("cc", "nss")
    resamples: int = 2000  # bootstrap resamples of videos (and seeds)
    level: float = 0.95  # two-sided interval
    seed: int = 0  # of the bootstrap's generator
    min_videos: int = 3  # behind an interval (a set's, or the pool's); fewer is "undecided"


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
    storage: str | None = (
        None  # null: sqlite:///<artifacts>/tune/optuna.db | journal:<file> | postgresql://...
    )
    sampler: TuneSampler = field(default_factory=TuneSampler)
    pruner: TunePruner = field(default_factory=TunePruner)
    heartbeat_interval: int = 10  # s between a running trial's heartbeats (RDB storages)
    grace_period: int = 30  # s without a heartbeat before a trial counts as dead (failed, retried)
    max_retry: int = 2  # retries of a trial whose worker died
    fixed: dict[str, Any] = field(
        default_factory=dict
    )  # dotted key -> value for every trial, not tuned
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
    claims: ClaimsConfig = field(default_factory=ClaimsConfig)  # optional: older configs load
    tune: TuneConfig = field(
        default_factory=TuneConfig
    )  # optional: configs recorded before it load
    params_file: str = field(default="<dict>", compare=False, metadata={"internal": True})

    def to_dict(self, *, identity: bool = False) -> dict[str, Any]:
        """The params mapping (what :func:`from_dict` reads back); ``params_file`` is no param.

        ``identity``: the mapping that identifies a run's params, without the
        :data:`KEYLESS_DEFAULT` fields that hold their default.
        """
        out = dataclasses.asdict(self)
        out.pop("params_file", None)
        if identity:
            _drop_keyless_defaults(self, out)
        return out


def _drop_keyless_defaults(obj: Any, raw: dict[str, Any]) -> None:
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if f.metadata.get(KEYLESS_DEFAULT) and value == f.default:
            raw.pop(f.name, None)
        elif dataclasses.is_dataclass(value):
            _drop_keyless_defaults(value, raw[f.name])
