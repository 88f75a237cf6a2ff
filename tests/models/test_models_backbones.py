"""Backbones: shapes/strides, local weight files, and no download without network."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import torch
import torchvision

import avsal.models.backbones as bbmod
from avsal.models import build_backbone


def _grab(bb: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in bb.state_dict().items()}


def test_tiny_shape_and_stride() -> None:
    bb = build_backbone("tiny")
    out = bb(torch.rand(2, 3, 64, 64))
    assert out.shape == (2, 64, 8, 8)
    assert (bb.out_channels, bb.stride) == (64, 8)


@pytest.mark.parametrize(
    ("name", "stride", "expected"),
    [
        ("vgg16", 16, (1, 512, 2, 2)),
        ("vgg16", 32, (1, 512, 1, 1)),
        ("resnet18", 16, (1, 512, 2, 2)),
        ("resnet18", 32, (1, 512, 1, 1)),
        ("resnext101_32x8d", 16, (1, 2048, 2, 2)),
    ],
)
def test_big_backbones_at_32px(name: str, stride: int, expected: tuple[int, ...]) -> None:
    bb = build_backbone(name, output_stride=stride).eval()
    with torch.no_grad():
        assert bb(torch.rand(1, 3, 32, 32)).shape == expected
    assert bb.stride == stride and bb.out_channels == expected[1]


def test_vgg16_is_torchvision_conv_part_without_pool5() -> None:
    bb = build_backbone("vgg16")
    convs = [m for m in bb.body if isinstance(m, torch.nn.Conv2d)]
    pools = [m for m in bb.body if isinstance(m, torch.nn.MaxPool2d)]
    assert len(convs) == 13 and len(pools) == 4
    assert sum(p.numel() for p in bb.parameters()) == 14_714_688  # VGG16 conv params
    assert isinstance(bb.body[-1], torch.nn.ReLU)  # conv5_3 + ReLU, no pool5


def test_frame_shape_is_checked() -> None:
    with pytest.raises(ValueError, match=r"\[B,3,H,W\]"):
        build_backbone("tiny")(torch.rand(2, 1, 64, 64))


def test_vgg16_loads_torchvision_style_file(tmp_path: Path) -> None:
    torch.manual_seed(1)
    src = build_backbone("vgg16")
    sd = {"features." + k[len("body.") :]: v for k, v in src.state_dict().items()}
    sd["classifier.6.bias"] = torch.zeros(1000)  # classifier keys are ignored
    path = tmp_path / "vgg16.pth"
    torch.save(sd, path)
    torch.manual_seed(2)
    dst = build_backbone("vgg16", weights_path=str(path))
    for k, v in _grab(src).items():
        assert torch.equal(dst.state_dict()[k], v), k


def test_resnet18_loads_wrapped_dataparallel_checkpoint(tmp_path: Path) -> None:
    net = torchvision.models.resnet18(weights=None)
    sd = {"module." + k: v for k, v in net.state_dict().items()}
    path = tmp_path / "ckpt.pt"
    torch.save({"state_dict": sd, "epoch": 3}, path)
    bb = build_backbone("resnet18", weights_path=str(path))
    assert torch.equal(bb.body.conv1.weight, net.conv1.weight)
    assert torch.equal(bb.body.layer4[1].bn2.running_var, net.layer4[1].bn2.running_var)


def test_mismatched_or_missing_weights_fail_clearly(tmp_path: Path) -> None:
    path = tmp_path / "tiny.pt"
    torch.save(build_backbone("tiny").state_dict(), path)
    with pytest.raises(RuntimeError, match=r"tiny\.pt do not match"):
        build_backbone("vgg16", weights_path=str(path))
    with pytest.raises(FileNotFoundError, match="nope.pth"):
        build_backbone("vgg16", weights_path=str(tmp_path / "nope.pth"))
    (tmp_path / "junk.pt").write_text("not a checkpoint")
    with pytest.raises(RuntimeError, match="junk.pt"):
        build_backbone("tiny", weights_path=str(tmp_path / "junk.pt"))
    with pytest.raises(ValueError, match="no published weights"):
        build_backbone("tiny", pretrained=True)


def test_pretrained_without_network_raises_and_never_downloads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))

    def no_download(*args: object, **kwargs: object) -> None:
        raise AssertionError("a download was attempted")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", no_download)
    monkeypatch.setattr(bbmod, "_url_reachable", lambda url, **kw: False)
    with pytest.raises(RuntimeError, match="weights_path"):
        build_backbone("resnet18", pretrained=True)


def test_pretrained_uses_hub_cache_without_network(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    net = torchvision.models.resnet18(weights=None)
    url = torchvision.models.ResNet18_Weights.IMAGENET1K_V1.url
    (tmp_path / "checkpoints").mkdir()
    torch.save(net.state_dict(), tmp_path / "checkpoints" / url.rsplit("/", 1)[1])
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))

    def no_probe(*args: object, **kwargs: object) -> bool:
        raise AssertionError("network probed although the file is cached")

    monkeypatch.setattr(bbmod, "_url_reachable", no_probe)
    bb = build_backbone("resnet18", pretrained=True)
    assert torch.equal(bb.body.layer1[0].conv1.weight, net.layer1[0].conv1.weight)


def test_reachability_probe_is_bounded() -> None:
    t0 = time.monotonic()
    # A non-routable address: refused, reset or timed out (sandboxes may accept the TCP
    # connection and then stall); never a hang, never "reachable".
    assert bbmod._url_reachable("https://10.255.255.1/vgg16.pth", timeout=0.5) is False
    assert time.monotonic() - t0 < 5.0
