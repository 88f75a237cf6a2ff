"""The name tables: every backbone and net kind params.yaml can name, unknown names fail clearly."""

from __future__ import annotations

import pytest

from avsal.models import BACKBONES, NET_KINDS, build_backbone, build_model


def test_names() -> None:
    assert {"tiny", "resnet18", "vgg16", "resnext101_32x8d"} <= set(BACKBONES)
    assert set(NET_KINDS) == {"s", "st", "sa", "sta_cls", "audio_switch", "audio", "sta"}


def test_unknown_names_list_the_available_ones() -> None:
    with pytest.raises(KeyError, match="unknown backbone 'vgg19'.*vgg16"):
        build_backbone("vgg19")
    with pytest.raises(KeyError, match="unknown model kind 'sx'.*sta"):
        build_model("sx", backbone="tiny", num_classes=3)


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
    with pytest.raises(TypeError, match="audio_switch"):  # options go to the constructor as is
        build_model("st", backbone="tiny", num_classes=3, audio_switch=None)


def test_builder_options_reach_the_net_and_its_backbone() -> None:
    net = build_model(
        "sta_cls",
        backbone="tiny",
        num_classes=4,
        backbone_options={"width": 8},
        temporal_width=4,
        audio_widths=(4, 8),
        fused_channels=6,
    )
    assert (net.backbone.out_channels, net.fusion.out_channels, net.num_classes) == (32, 6, 4)
    assert net.audio_flow.encoder.out_channels == 8
    assert build_model("audio_switch", backbone="tiny", num_classes=1).num_classes == 1
    assert build_model("audio", backbone=None, num_classes=2, widths=(4, 8)).feature_dim == 8
