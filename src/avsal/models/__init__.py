"""Nets of the method (S, ST, SA, audio switch, STA), their backbones and the audio taggers.

params.yaml names a backbone and a net kind by string: ``build_backbone`` / ``build_model``
look them up in the plain tables of ``avsal.models.registry``. Taggers are used directly.
"""

from avsal.models.backbones import Backbone, read_state_dict
from avsal.models.classifiers import (
    AudioNet,
    AudioSwitchNet,
    ClassificationNet,
    SANet,
    SNet,
    STAClassificationNet,
    STNet,
)
from avsal.models.flows import AudioFlow, STAFusion, TemporalFlow, apply_audio_switch
from avsal.models.registry import BACKBONES, NET_KINDS, NetKind, build_backbone, build_model
from avsal.models.sta import STAFixationNet, sta_loss
from avsal.models.tagger import (
    NO_MATCH,
    AudioTagger,
    PredictionsFileTagger,
    switch_labels,
)

__all__ = [
    "BACKBONES",
    "NET_KINDS",
    "NO_MATCH",
    "AudioFlow",
    "AudioNet",
    "AudioSwitchNet",
    "AudioTagger",
    "Backbone",
    "ClassificationNet",
    "NetKind",
    "PredictionsFileTagger",
    "SANet",
    "SNet",
    "STAClassificationNet",
    "STAFixationNet",
    "STAFusion",
    "STNet",
    "TemporalFlow",
    "apply_audio_switch",
    "build_backbone",
    "build_model",
    "read_state_dict",
    "sta_loss",
    "switch_labels",
]
