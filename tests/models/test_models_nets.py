"""Every registered net on tiny inputs: shapes, the CAM contract, gradients, Eq. 4/5, input checks."""

from __future__ import annotations

import math

import pytest
import torch

from avsal.models import NET_KINDS, AudioSwitchNet, TemporalFlow, build_model, sta_loss

B, H, W, T, C = 2, 32, 32, 3, 5
CLASSIFIERS = ["s", "st", "sa", "sta_cls", "audio_switch", "audio"]


@pytest.fixture
def inputs() -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return {
        "frame": torch.rand(B, 3, H, W, generator=g),
        "clip": torch.rand(B, 3, T, H, W, generator=g),
        "audio": torch.randn(B, 1, 64, 24, generator=g),
    }


def _build(kind: str) -> torch.nn.Module:
    torch.manual_seed(0)
    n = None if kind in ("audio_switch", "sta") else C
    return build_model(kind, backbone="tiny", num_classes=n)


def _assert_all_grads(model: torch.nn.Module) -> None:
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        assert p.grad is not None, f"no gradient reached {name}"
        assert p.grad.abs().sum() > 0, f"all-zero gradient at {name}"


def test_every_registered_kind_is_tested_here() -> None:
    assert set(NET_KINDS) == set(CLASSIFIERS) | {"sta"}


@pytest.mark.parametrize(
    ("kind", "children"),
    [
        ("s", ["classifier", "backbone"]),
        ("st", ["classifier", "backbone", "temporal"]),
        ("sa", ["classifier", "backbone", "audio_flow"]),
        ("audio_switch", ["classifier", "backbone", "audio_flow"]),
        ("sta_cls", ["classifier", "backbone", "temporal", "audio_flow", "fusion"]),
        ("audio", ["classifier", "encoder"]),
        ("sta", ["backbone", "temporal", "audio_flow", "fusion", "decoder"]),
    ],
)
def test_state_dict_prefixes_are_stable(kind: str, children: list[str]) -> None:
    """Exported state_dicts are loaded by these names (``load_net``): renaming breaks old files."""
    assert [name for name, _ in _build(kind).named_children()] == children


@pytest.mark.parametrize("kind", CLASSIFIERS)
def test_classifier_contract_shapes_and_gradients(
    kind: str, inputs: dict[str, torch.Tensor]
) -> None:
    model = _build(kind).train()
    feats = model.forward_features(**inputs)
    n_out = 1 if kind == "audio_switch" else C
    if kind == "audio":
        assert feats.shape == (B, 256, 4, 2)  # 64x24 spectrogram at stride 16
    else:
        assert feats.shape == (B, 64, H // 8, W // 8)
    logits = model(**inputs)
    assert logits.shape == (B, n_out)
    assert torch.allclose(logits, model.forward_head(feats), atol=1e-6)
    clf = model.get_classifier()
    assert isinstance(clf, torch.nn.Linear) and clf.weight.shape == (n_out, feats.shape[1])
    # Random weights in the loss: a plain sum is invariant under BN for some parameters.
    (logits * torch.randn_like(logits)).sum().backward()
    _assert_all_grads(model)


def test_sta_shapes_probabilities_and_gradients(inputs: dict[str, torch.Tensor]) -> None:
    model = _build("sta").train()
    logits = model.forward_logits(**inputs)
    assert logits.shape == (B, 1, H, W)
    probs = model(**inputs)
    assert torch.allclose(probs, torch.sigmoid(logits), atol=1e-6)
    assert bool(((probs > 0) & (probs < 1)).all())
    assert model.forward_features(**inputs).shape == (B, 64, H // 8, W // 8)
    sta_loss(logits, torch.rand(B, H, W)).backward()
    _assert_all_grads(model)


def test_sta_loss_golden() -> None:
    # BCE(logit 0, y 1) = ln 2; BCE(logit ln 3, y 0) = -ln(1 - 3/4) = ln 4; mean = 1.5 ln 2.
    logits = torch.tensor([0.0, math.log(3.0)]).view(1, 1, 1, 2)
    target = torch.tensor([1.0, 0.0]).view(1, 1, 1, 2)
    assert sta_loss(logits, target).item() == pytest.approx(1.5 * math.log(2.0), rel=1e-6)
    with pytest.raises(ValueError, match="does not match"):
        sta_loss(logits, torch.zeros(1, 1, 2, 1))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        sta_loss(logits, target * 2)


def test_sa_fusion_is_eq4(inputs: dict[str, torch.Tensor]) -> None:
    model = _build("sa").eval()
    with torch.no_grad():
        s = model.backbone(inputs["frame"])
        a = model.audio_flow(inputs["audio"])[:, :, None, None]
        # No switch (ablation): phi(A) = A.
        expected = torch.relu(torch.sigmoid(a) * s + s)
        assert torch.allclose(model.forward_features(**inputs), expected, atol=1e-6)
        # phi(A) = p * A per sample.
        p = torch.tensor([0.0, 0.25])
        got = model.forward_features(**inputs, switch_prob=p)
        assert torch.allclose(got[0], torch.relu(1.5 * s[0]), atol=1e-6)
        assert torch.allclose(
            got[1], torch.relu(torch.sigmoid(0.25 * a[1]) * s[1] + s[1]), atol=1e-6
        )
        # Switch closed: the audio no longer matters.
        other = dict(inputs, audio=torch.randn_like(inputs["audio"]))
        zero = torch.zeros(B)
        assert torch.allclose(
            model.forward_features(**inputs, switch_prob=zero),
            model.forward_features(**other, switch_prob=zero),
        )
        assert not torch.allclose(model.forward_features(**inputs), model.forward_features(**other))


def test_attached_audio_switch_is_frozen_and_used(inputs: dict[str, torch.Tensor]) -> None:
    switch = _build("audio_switch")
    assert isinstance(switch, AudioSwitchNet)
    model = build_model("sa", backbone="tiny", num_classes=C, audio_switch=switch).train()
    assert model.audio_switch is switch and not switch.training
    assert all(not p.requires_grad for p in switch.parameters())
    with torch.no_grad():
        p = switch.probability(frame=inputs["frame"], audio=inputs["audio"])
        assert p.shape == (B,) and bool(((p > 0) & (p < 1)).all())
        assert torch.allclose(
            model.forward_features(**inputs), model.forward_features(**inputs, switch_prob=p)
        )
        # An explicit switch_prob wins over the attached switch.
        ones = torch.ones(B)
        assert not torch.allclose(
            model.forward_features(**inputs), model.forward_features(**inputs, switch_prob=ones)
        )
    before = {k: v.clone() for k, v in switch.state_dict().items()}
    model(**inputs).sum().backward()
    assert all(q.grad is None for q in switch.parameters())
    assert all(torch.equal(v, switch.state_dict()[k]) for k, v in before.items())  # BN stats too
    with pytest.raises(ValueError, match="cannot itself"):
        switch.attach_audio_switch(_build("audio_switch"))


def test_st_fusion_uses_key_frame_and_neighbours(inputs: dict[str, torch.Tensor]) -> None:
    model = _build("st").eval()
    clip = inputs["clip"]
    with torch.no_grad():
        s = model.backbone(clip[:, :, T // 2])
        t = model.temporal(clip, s.shape[-2:])
        got = model.forward_features(clip=clip)
        assert torch.allclose(got, torch.relu(torch.sigmoid(t) * s + s), atol=1e-6)
        # 'frame' is ignored by clip nets; the neighbouring frames do reach the output.
        assert torch.equal(got, model.forward_features(clip=clip, frame=torch.zeros(B, 3, H, W)))
        moved = clip.clone()
        moved[:, :, 0] = torch.rand(B, 3, H, W)
        assert not torch.allclose(got, model.forward_features(clip=moved))


@pytest.mark.parametrize("input_stride", [1, 2, 4])
def test_temporal_flow_input_stride_variants(input_stride: int) -> None:
    flow = TemporalFlow(out_channels=7, stride=16, width=4, input_stride=input_stride)
    n_conv3d = sum(isinstance(m, torch.nn.Conv3d) for m in flow.modules())
    assert n_conv3d == {1: 4, 2: 3, 4: 2}[input_stride]  # one stage per remaining factor 2
    # 36 px: the conv rounding (ceil) differs from the backbone's (floor); resized to match.
    assert flow(torch.rand(1, 3, 5, 36, 36), (2, 2)).shape == (1, 7, 2, 2)
    with pytest.raises(ValueError, match="power of 2"):
        TemporalFlow(out_channels=7, stride=16, input_stride=16)
    with pytest.raises(ValueError, match="must divide"):
        TemporalFlow(out_channels=7, stride=16, input_stride=3)


def test_frame_nets_take_the_clip_middle_frame(inputs: dict[str, torch.Tensor]) -> None:
    model = _build("s").eval()
    clip = inputs["clip"]
    with torch.no_grad():
        assert torch.equal(model(clip=clip), model(frame=clip[:, :, T // 2].contiguous()))


def test_sta_cls_fusion_is_eq5(inputs: dict[str, torch.Tensor]) -> None:
    model = _build("sta_cls").eval()
    clip, audio = inputs["clip"], inputs["audio"]
    with torch.no_grad():
        s = model.backbone(clip[:, :, T // 2])
        t = model.temporal(clip, s.shape[-2:])
        a = model.audio_flow(audio)[:, :, None, None]
        cat = torch.cat([torch.sigmoid(a) * s + s, torch.sigmoid(t) * s + s], dim=1)
        expected = torch.relu(model.fusion.conv(cat))
        assert torch.allclose(model.forward_features(clip=clip, audio=audio), expected, atol=1e-6)


@pytest.mark.parametrize(
    ("kind", "bad", "match"),
    [
        ("st", {"clip": torch.rand(B, 3, 4, H, W)}, "odd number of frames"),
        ("st", {"clip": torch.rand(B, 3, H, W)}, r"\[B,3,T,H,W\]"),
        ("st", {"clip": None}, "needs 'clip'"),
        ("sta", {"clip": torch.rand(B, 3, 2, H, W)}, "odd number of frames"),
        ("sa", {"audio": None}, "needs 'audio'"),
        ("sa", {"audio": torch.randn(B, 64, 24)}, r"\[B,1,F,Ta\]"),
        ("sa", {"audio": torch.randn(B + 1, 1, 64, 24)}, "batch"),
        ("sa", {"switch_prob": torch.tensor([0.5, 1.5])}, r"\[0, 1\]"),
        ("sa", {"switch_prob": torch.ones(B + 1)}, "switch_prob"),
        ("s", {"frame": torch.rand(B, 4, H, W), "clip": None}, r"\[B,3,H,W\]"),
        ("s", {"frame": None, "clip": None}, "needs 'frame'"),
        ("audio", {"audio": None}, "needs 'audio'"),
    ],
)
def test_bad_inputs_raise_clear_errors(
    kind: str, bad: dict[str, torch.Tensor | None], match: str, inputs: dict[str, torch.Tensor]
) -> None:
    model = _build(kind)
    with pytest.raises(ValueError, match=match):
        model(**{**inputs, **bad})


def test_paper_backbone_nets_build_and_run() -> None:
    torch.manual_seed(0)
    x = {
        "frame": torch.rand(1, 3, 32, 32),
        "clip": torch.rand(1, 3, 3, 32, 32),
        "audio": torch.randn(1, 1, 64, 101),
    }
    with torch.no_grad():
        s = build_model("sa", backbone="vgg16", num_classes=28).eval()
        assert s.forward_features(**x).shape == (1, 512, 2, 2) and s(**x).shape == (1, 28)
        sta = build_model("sta", backbone="vgg16").eval()
        assert sta(**x).shape == (1, 1, 32, 32)
