"""Nets of the method (S, ST, SA, audio switch, STA) behind one small registry.

Importing this package registers every backbone, net and tagger; build them by name with
``build_backbone`` / ``build_model`` / ``build_tagger`` (see ``avsal.models.registry``).
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
from avsal.models.registry import (
    BACKBONES,
    FUSION_RULES,
    MODELS,
    TAGGERS,
    Registry,
    build_backbone,
    build_model,
    build_tagger,
    get_fusion_rule,
    list_backbones,
    list_fusion_rules,
    list_models,
    list_taggers,
    register_backbone,
    register_fusion_rule,
    register_model,
    register_tagger,
)
from avsal.models.sta import STAFixationNet, sta_loss
from avsal.models.tagger import (
    NO_MATCH,
    AudioTagger,
    PredictionsFileTagger,
    TrainedAudioTagger,
    switch_labels,
)

__all__ = [
    "BACKBONES",
    "FUSION_RULES",
    "MODELS",
    "NO_MATCH",
    "TAGGERS",
    "AudioFlow",
    "AudioNet",
    "AudioSwitchNet",
    "AudioTagger",
    "Backbone",
    "ClassificationNet",
    "PredictionsFileTagger",
    "Registry",
    "SANet",
    "SNet",
    "STAClassificationNet",
    "STAFixationNet",
    "STAFusion",
    "STNet",
    "TemporalFlow",
    "TrainedAudioTagger",
    "apply_audio_switch",
    "build_backbone",
    "build_model",
    "build_tagger",
    "get_fusion_rule",
    "list_backbones",
    "list_fusion_rules",
    "list_models",
    "list_taggers",
    "read_state_dict",
    "register_backbone",
    "register_fusion_rule",
    "register_model",
    "register_tagger",
    "sta_loss",
    "switch_labels",
]
