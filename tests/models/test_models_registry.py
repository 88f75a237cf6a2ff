"""The registry: every swappable part is found by name, unknown/duplicate names fail clearly."""

from __future__ import annotations

import pytest

from avsal.models import (
    Registry,
    build_backbone,
    build_model,
    list_backbones,
    list_fusion_rules,
    list_models,
    list_taggers,
)


def test_registered_names() -> None:
    assert {"tiny", "resnet18", "vgg16", "resnext101_32x8d"} <= set(list_backbones())
    assert set(list_models()) == {"s", "st", "sa", "sta_cls", "audio_switch", "audio", "sta"}
    assert list_fusion_rules() == ["average", "official", "paper"]
    assert set(list_taggers()) == {"trained", "predictions_file"}


def test_unknown_names_list_the_available_ones() -> None:
    with pytest.raises(KeyError, match="unknown backbone 'vgg19'.*vgg16"):
        build_backbone("vgg19")
    with pytest.raises(KeyError, match="unknown model kind 'sx'.*sta"):
        build_model("sx", backbone="tiny", num_classes=3)


def test_duplicate_registration_is_an_error() -> None:
    reg: Registry[object] = Registry("thing")
    reg.register("a")(object)
    with pytest.raises(ValueError, match="already registered"):
        reg.register("a")(object)
    assert reg.names() == ["a"] and "a" in reg


def test_factory_argument_errors() -> None:
    with pytest.raises(ValueError, match="needs num_classes"):
        build_model("s", backbone="tiny")
    with pytest.raises(ValueError, match="needs a backbone"):
        build_model("st", backbone=None, num_classes=3)
    with pytest.raises(ValueError, match="one output"):
        build_model("audio_switch", backbone="tiny", num_classes=3)
    with pytest.raises(ValueError, match="no num_classes"):
        build_model("sta", backbone="tiny", num_classes=3)
    with pytest.raises(ValueError, match="no pretrained"):
        build_model("audio", num_classes=3, pretrained=True)
    with pytest.raises(ValueError, match="output_stride"):
        build_backbone("vgg16", output_stride=8)
