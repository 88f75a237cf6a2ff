"""CAM (Eq. 1) on constructed features with hand-computed answers, and on a real net."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from avsal.cam import cam_and_probs, cam_from_features, class_activation_map, minmax_normalize
from avsal.models import build_model

# Two channels on a 2x2 grid.
F0 = [[1.0, 0.0], [0.0, 2.0]]
F1 = [[0.0, 1.0], [3.0, 0.0]]
WEIGHT = torch.tensor([[1.0, 0.0], [0.5, -1.0], [0.0, 0.0]])  # 3 classes x 2 channels


class FixedFeatureNet(nn.Module):
    """Implements the CAM contract with given features: a known-answer fixture."""

    def __init__(self, features: Tensor, weight: Tensor) -> None:
        super().__init__()
        self.features = features
        self.classifier = nn.Linear(weight.shape[1], weight.shape[0])
        with torch.no_grad():
            self.classifier.weight.copy_(weight)
            self.classifier.bias.fill_(7.0)  # the bias must not enter a CAM

    def forward_features(self, **inputs: Tensor) -> Tensor:
        return self.features

    def forward_head(self, features: Tensor) -> Tensor:
        return self.classifier(features.mean(dim=(2, 3)))

    def get_classifier(self) -> nn.Linear:
        return self.classifier


def _features() -> Tensor:
    return torch.tensor([[F0, F1], [F1, F0]])  # [2, 2, 2, 2]


def test_cam_from_features_known_answer() -> None:
    raw = cam_from_features(_features(), WEIGHT, torch.tensor([1, 1]))
    # class 1 = 0.5 * f0 - f1
    assert raw[0].tolist() == [[0.5, -1.0], [-3.0, 1.0]]
    assert raw[1].tolist() == [[-1.0, 0.5], [1.5, -2.0]]  # sample 2 swaps the channels
    assert cam_from_features(_features(), WEIGHT, 0)[0].tolist() == F0


def test_minmax_known_answer_and_constant_maps() -> None:
    maps = torch.tensor([[[0.5, -1.0], [-3.0, 1.0]], [[2.0, 2.0], [2.0, 2.0]]])
    out = minmax_normalize(maps)
    assert out[0].tolist() == [[0.875, 0.5], [0.0, 1.0]]
    assert out[1].tolist() == [[0.0, 0.0], [0.0, 0.0]]  # constant -> zeros, not NaN


def test_class_activation_map_known_answer() -> None:
    net = FixedFeatureNet(_features(), WEIGHT)
    cam = class_activation_map(net, {}, torch.tensor([1, 0]), out_size=(2, 2))
    assert cam[0].tolist() == [[0.875, 0.5], [0.0, 1.0]]
    # class 0 of sample 2 is its channel 0 = F1 = [[0,1],[3,0]] -> /3
    assert torch.allclose(cam[1], torch.tensor([[0.0, 1 / 3], [1.0, 0.0]]))
    # Zero weights give a constant map -> zeros, never NaN.
    assert class_activation_map(net, {}, 2, out_size=2).abs().sum() == 0


def test_class_activation_map_upsamples_then_normalises() -> None:
    net = FixedFeatureNet(_features(), WEIGHT)
    cam = class_activation_map(net, {}, 1, out_size=(8, 6))
    raw = cam_from_features(_features(), WEIGHT, 1).unsqueeze(1)
    up = F.interpolate(raw, size=(8, 6), mode="bilinear", align_corners=False)[:, 0]
    assert cam.shape == (2, 8, 6)
    assert torch.allclose(cam, minmax_normalize(up))
    assert cam.amin(dim=(1, 2)).tolist() == [0.0, 0.0] and cam.amax(dim=(1, 2)).tolist() == [1, 1]


def test_cam_on_a_real_net_uses_only_the_contract() -> None:
    torch.manual_seed(0)
    model = build_model("sa", backbone="tiny", num_classes=4).eval()
    inputs = {"frame": torch.rand(2, 3, 32, 32), "audio": torch.randn(2, 1, 64, 24)}
    cams, probs, cls = cam_and_probs(model, inputs, torch.tensor([3, 1]), out_size=32)
    assert cls.tolist() == [3, 1]
    with torch.no_grad():
        feats = model.forward_features(**inputs)
        expected_probs = torch.softmax(model(**inputs), dim=1)
    raw = torch.einsum("bd,bdhw->bhw", model.get_classifier().weight[[3, 1]], feats)
    up = F.interpolate(raw[:, None], size=(32, 32), mode="bilinear", align_corners=False)[:, 0]
    assert torch.allclose(cams, minmax_normalize(up), atol=1e-6)
    assert torch.allclose(probs, expected_probs, atol=1e-6)
    assert torch.allclose(
        class_activation_map(model, inputs, torch.tensor([3, 1]), out_size=32), cams
    )


def test_cam_argument_errors() -> None:
    with pytest.raises(ValueError, match="out of range"):
        cam_from_features(_features(), WEIGHT, 3)
    with pytest.raises(ValueError, match=r"\[B\]=\[2\]"):
        cam_from_features(_features(), WEIGHT, torch.tensor([0, 1, 2]))
    with pytest.raises(ValueError, match=r"\[C,D\] with D=2"):
        cam_from_features(_features(), torch.zeros(3, 5), 0)
    with pytest.raises(ValueError, match=r"\[B,D,h,w\]"):
        cam_from_features(torch.zeros(2, 2, 2), WEIGHT, 0)


def test_cam_and_probs_without_a_class_explains_the_top1():
    torch.manual_seed(0)
    model = build_model("s", backbone="tiny", num_classes=4).eval()
    inputs = {"frame": torch.rand(3, 3, 32, 32)}
    cams, probs, cls = cam_and_probs(model, inputs, None, out_size=16)
    assert cls.tolist() == probs.argmax(1).tolist()
    same, _, _ = cam_and_probs(model, inputs, torch.full((3,), -1), out_size=16)
    explicit, _, _ = cam_and_probs(model, inputs, cls, out_size=16)
    assert torch.equal(cams, same) and torch.equal(cams, explicit)
