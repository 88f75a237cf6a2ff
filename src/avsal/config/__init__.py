"""params.yaml -> one frozen, typed config.

Why a hand-rolled loader: the config is the contract between DVC (which tracks params.yaml keys),
the CLI and the library.  A typo in params.yaml must fail loudly, naming the key and the file,
instead of silently falling back to a default.  Classes elsewhere never read this object's file;
stages unpack the fields they need and pass them as keyword arguments.

The package, by idea (import from ``avsal.config``; the modules are its layout, not its API):

- :mod:`avsal.config.schema`: the frozen dataclasses, :data:`FIXATION_SETS`, :class:`ConfigError`;
- :mod:`avsal.config.convert`: :func:`from_dict`, the strict typed conversion;
- :mod:`avsal.config.load`: params files, ``-S`` overrides, profiles, :func:`with_overrides`;
- :mod:`avsal.config.checks`: the cross-field rules and the tuning-space checks.

No module here imports torch at import time; the one check that needs the metric names
imports them when it runs.
"""

from __future__ import annotations

from avsal.config.checks import param_type
from avsal.config.convert import from_dict
from avsal.config.load import (
    apply_overrides,
    deep_merge,
    load_config,
    load_profile,
    parse_overrides,
    profile_overrides,
    with_overrides,
)
from avsal.config.schema import (
    FIXATION_SETS,
    AVEConfig,
    ClaimsConfig,
    ClipFormat,
    ClsStageConfig,
    Config,
    ConfigError,
    DatasetsConfig,
    EvaluateConfig,
    FixationSetSynth,
    ModelConfig,
    ParamSpec,
    PathsConfig,
    PrepareConfig,
    ProjectConfig,
    RuntimeConfig,
    ScamConfig,
    STAConfig,
    SwitchConfig,
    SynthConfig,
    TaggerConfig,
    TrainSpec,
    TuneConfig,
    TuneObjective,
    TunePruner,
    TuneSampler,
    TuneSplit,
    ValidationConfig,
)

__all__ = [
    "ConfigError",
    "Config",
    "PathsConfig",
    "ProjectConfig",
    "SynthConfig",
    "ClipFormat",
    "FixationSetSynth",
    "AVEConfig",
    "DatasetsConfig",
    "PrepareConfig",
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
    "TuneConfig",
    "TuneObjective",
    "TuneSplit",
    "TuneSampler",
    "TunePruner",
    "ParamSpec",
    "FIXATION_SETS",
    "load_config",
    "parse_overrides",
    "apply_overrides",
    "with_overrides",
    "deep_merge",
    "load_profile",
    "profile_overrides",
    "from_dict",
    "param_type",
]
