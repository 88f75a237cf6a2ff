"""Visual backbones (the S flow): ``tiny``, ``resnet18``, ``vgg16`` (paper), ``resnext101_32x8d``.

Contract: a ``Backbone`` maps RGB frames in [0, 1], [B, 3, H, W], to a feature map
[B, out_channels, ~H/stride, ~W/stride]. ImageNet mean/std normalisation happens inside, so the
data pipeline feeds plain [0, 1] pixels and pretrained weights see what they were trained on.

Default output stride is 16 for the big backbones: CAMs at stride 32 are too coarse (a 256 px
frame gives an 8x8 map), so ``vgg16`` drops its last max-pool (as many CAM works do) and the
ResNets run their last stage without striding (``resnext101_32x8d`` dilated, as in DeepLab;
``resnet18`` un-strided because torchvision's BasicBlock has no dilation). Both keep the
torchvision parameter names, so torchvision / WSL state_dicts load unchanged.

Weights: ``weights_path`` (a local state_dict .pt/.pth, torchvision naming, optionally wrapped in
``{"state_dict": ...}`` or with DataParallel ``module.`` prefixes) or ``pretrained=True`` for
torchvision's ImageNet weights, taken from the torch hub cache when present; a download is only
tried when the host answers, otherwise a RuntimeError says to pass a local file. Never a hang.
"""

from __future__ import annotations

import os
import threading
import urllib.request
from collections import OrderedDict
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import urlparse

import torch
import torchvision
from torch import Tensor, nn
from torchvision.models import vgg as tv_vgg

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class Backbone(nn.Module):
    """Wraps a conv body: normalises [0, 1] RGB, runs the body, records channels and stride."""

    def __init__(self, body: nn.Module, *, out_channels: int, stride: int, name: str) -> None:
        super().__init__()
        self.body = body
        self.out_channels = out_channels
        self.stride = stride
        self.name = name
        # Not persistent: checkpoints hold only learnt weights, and these are constants.
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def forward(self, frame: Tensor) -> Tensor:
        """frame [B,3,H,W] in [0,1] -> features [B,D,h,w]."""
        if frame.dim() != 4 or frame.shape[1] != 3:
            raise ValueError(
                f"{self.name}: expected frames [B,3,H,W], got shape {tuple(frame.shape)}"
            )
        x = (frame - self.mean.to(frame.dtype)) / self.std.to(frame.dtype)
        return self.body(x)


# --------------------------------------------------------------------------- weight loading


def _url_reachable(url: str, timeout: float = 5.0) -> bool:
    """True if an HTTP HEAD on ``url`` answers (status < 400) within about ``timeout`` s.

    A TCP connect is not enough: sandboxes may accept any connection and then stall. The probe
    runs in a daemon thread so DNS resolution (which ignores socket timeouts) cannot hang us.
    """
    result: list[bool] = []

    def probe() -> None:
        try:
            req = urllib.request.Request(url, method="HEAD")
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                result.append(resp.status < 400)
        except (OSError, ValueError):
            result.append(False)

    t = threading.Thread(target=probe, daemon=True)
    t.start()
    t.join(timeout + 1.0)
    return bool(result and result[0])


def read_state_dict(path: str | os.PathLike) -> dict[str, Tensor]:
    """Read a state_dict file (plain, or under ``state_dict``/``model`` keys; ``module.`` stripped)."""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"weights file not found: {p}")
    try:
        obj = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as e:  # re-raised with the file name
        raise RuntimeError(f"cannot read weights file {p}: {e}") from e
    if isinstance(obj, dict):
        for key in ("state_dict", "model_state_dict", "model"):
            if isinstance(obj.get(key), dict):
                obj = obj[key]
                break
    if not isinstance(obj, dict) or not all(isinstance(v, Tensor) for v in obj.values()):
        raise ValueError(f"weights file {p} does not hold a state_dict of tensors")
    return {(k[len("module.") :] if k.startswith("module.") else k): v for k, v in obj.items()}


def _load_into(
    body: nn.Module,
    state: dict[str, Tensor],
    *,
    source: str,
    strip: Iterable[str] = (),
    ignore: Iterable[str] = (),
) -> None:
    """Load ``state`` into ``body`` strictly after stripping/ignoring known key prefixes."""
    strip, ignore = tuple(strip) + ("body.",), tuple(ignore)
    cleaned: dict[str, Tensor] = {}
    for k, v in state.items():
        if any(k.startswith(p) for p in ignore):
            continue
        for p in strip:
            if k.startswith(p):
                k = k[len(p) :]
                break
        cleaned[k] = v
    missing, unexpected = body.load_state_dict(cleaned, strict=False)
    if missing or unexpected:
        raise RuntimeError(
            f"weights from {source} do not match the backbone: "
            f"missing {list(missing)[:5]}{'...' if len(missing) > 5 else ''}, "
            f"unexpected {list(unexpected)[:5]}{'...' if len(unexpected) > 5 else ''}"
        )


def torchvision_state_dict(weights: torchvision.models.WeightsEnum) -> dict[str, Tensor]:
    """torchvision weights from the hub cache, or downloaded only if the host is reachable."""
    url = weights.url
    cached = Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(urlparse(url).path)
    if cached.is_file():
        return read_state_dict(cached)
    if not _url_reachable(url):
        raise RuntimeError(
            f"pretrained weights {weights} are not in the torch hub cache ({cached}) and {url} "
            "cannot be reached (no network?). Download the file on a machine with network and "
            "pass weights_path=<local .pth>, or copy it to the cache path above."
        )
    return weights.get_state_dict(progress=True, check_hash=True)


def _load_weights(
    body: nn.Module,
    *,
    name: str,
    pretrained: bool,
    weights_path: str | None,
    tv_weights: torchvision.models.WeightsEnum | None,
    strip: Iterable[str] = (),
    ignore: Iterable[str] = (),
) -> None:
    if weights_path is not None:
        state, source = read_state_dict(weights_path), str(weights_path)
    elif pretrained:
        if tv_weights is None:
            raise ValueError(f"backbone {name!r} has no published weights; pass weights_path")
        state, source = torchvision_state_dict(tv_weights), str(tv_weights)
    else:
        return
    _load_into(body, state, source=source, strip=strip, ignore=ignore)


def _check_stride(name: str, output_stride: int, allowed: tuple[int, ...]) -> None:
    if output_stride not in allowed:
        raise ValueError(f"{name}: output_stride must be one of {allowed}, got {output_stride}")


# --------------------------------------------------------------------------- backbones


def _conv_bn_relu(cin: int, cout: int, stride: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


def tiny(*, pretrained: bool = False, weights_path: str | None = None, width: int = 16) -> Backbone:
    """Four conv-BN-ReLU layers, stride 8, ``4*width`` channels: for CPU runs on 64x64 frames."""
    body = nn.Sequential(
        _conv_bn_relu(3, width, 2),
        _conv_bn_relu(width, 2 * width, 2),
        _conv_bn_relu(2 * width, 4 * width, 2),
        _conv_bn_relu(4 * width, 4 * width, 1),
    )
    _load_weights(
        body, name="tiny", pretrained=pretrained, weights_path=weights_path, tv_weights=None
    )
    return Backbone(body, out_channels=4 * width, stride=8, name="tiny")


def vgg16(
    *, pretrained: bool = False, weights_path: str | None = None, output_stride: int = 16
) -> Backbone:
    """The paper's backbone: torchvision VGG16 conv layers (13 conv + ReLU), 512 channels.

    output_stride 16 drops the last max-pool; 32 keeps it (torchvision's ``features`` as is).
    """
    _check_stride("vgg16", output_stride, (16, 32))
    layers = tv_vgg.make_layers(tv_vgg.cfgs["D"], batch_norm=False)  # indices 0..30, 30 = pool5
    body = layers if output_stride == 32 else nn.Sequential(*list(layers.children())[:30])
    _load_weights(
        body,
        name="vgg16",
        pretrained=pretrained,
        weights_path=weights_path,
        tv_weights=torchvision.models.VGG16_Weights.IMAGENET1K_V1,
        strip=("features.",),
        ignore=("classifier.",),
    )
    return Backbone(body, out_channels=512, stride=output_stride, name="vgg16")


def _resnet_body(net: torchvision.models.ResNet) -> nn.Sequential:
    """The conv trunk of a torchvision ResNet with the same parameter names (no avgpool/fc)."""
    names = ("conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4")
    return nn.Sequential(OrderedDict((n, getattr(net, n)) for n in names))


def resnet18(
    *, pretrained: bool = False, weights_path: str | None = None, output_stride: int = 16
) -> Backbone:
    """torchvision ResNet-18 trunk, 512 channels; stride 16 un-strides layer4 (no dilation)."""
    _check_stride("resnet18", output_stride, (16, 32))
    net = torchvision.models.resnet18(weights=None)
    if output_stride == 16:
        block = net.layer4[0]
        block.conv1.stride = (1, 1)
        block.downsample[0].stride = (1, 1)
    body = _resnet_body(net)
    _load_weights(
        body,
        name="resnet18",
        pretrained=pretrained,
        weights_path=weights_path,
        tv_weights=torchvision.models.ResNet18_Weights.IMAGENET1K_V1,
        ignore=("fc.",),
    )
    return Backbone(body, out_channels=512, stride=output_stride, name="resnet18")


def resnext101_32x8d(
    *, pretrained: bool = False, weights_path: str | None = None, output_stride: int = 16
) -> Backbone:
    """The released code's backbone: ResNeXt-101 32x8d trunk, 2048 channels.

    The authors used the WSL (Instagram) weights; torchvision's architecture and parameter
    names are the same, so pass that file as ``weights_path``. ``pretrained=True`` gives
    torchvision's ImageNet weights instead. Stride 16 dilates layer4 (DeepLab style).
    """
    _check_stride("resnext101_32x8d", output_stride, (16, 32))
    net = torchvision.models.resnext101_32x8d(
        weights=None, replace_stride_with_dilation=[False, False, output_stride == 16]
    )
    body = _resnet_body(net)
    _load_weights(
        body,
        name="resnext101_32x8d",
        pretrained=pretrained,
        weights_path=weights_path,
        tv_weights=torchvision.models.ResNeXt101_32X8D_Weights.IMAGENET1K_V1,
        ignore=("fc.",),
    )
    return Backbone(body, out_channels=2048, stride=output_stride, name="resnext101_32x8d")
