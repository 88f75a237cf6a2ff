"""SCAM (Eq. 2-3): each fusion rule on hand-computed examples."""

from __future__ import annotations

from typing import get_args, get_type_hints

import pytest
import torch

from avsal.cam import FUSION_RULES, fusion_weights, selective_fusion, selective_fusion_batch
from avsal.config import ScamConfig

# Three CAMs (S, ST, SA) on a 2x2 grid, each lighting one pixel.
CAMS = torch.tensor(
    [
        [[1.0, 0.0], [0.0, 0.0]],  # S
        [[0.0, 1.0], [0.0, 0.0]],  # ST
        [[0.0, 0.0], [1.0, 0.0]],  # SA
    ]
)
# Tag 0. S: tag is top-1 (0.7). ST: tag not top-1 (0.6 on class 1). SA: tag top-1 (0.6).
PROBS = torch.tensor([[0.7, 0.2, 0.1], [0.3, 0.6, 0.1], [0.6, 0.3, 0.1]])


def test_paper_rule_eq3_zeroes_nets_whose_top1_is_not_the_tag() -> None:
    w = fusion_weights(PROBS[None], torch.tensor([0]), rule="paper")[0]
    assert w.tolist() == pytest.approx([0.7, 0.0, 0.6])
    # num = 0.7 S + 0.6 SA + lam, den = 1.3 + lam; min-max -> [[1, 0], [6/7, 0]].
    out = selective_fusion(CAMS, PROBS, 0, rule="paper")
    assert torch.allclose(out, torch.tensor([[1.0, 0.0], [6 / 7, 0.0]]), atol=1e-6)


def test_paper_rule_tie_is_not_top1() -> None:
    probs = torch.tensor([[0.4, 0.4, 0.2], [0.5, 0.3, 0.2], [0.2, 0.2, 0.6]])
    w = fusion_weights(probs[None], torch.tensor([0]), rule="paper")[0]
    assert w.tolist() == pytest.approx([0.0, 0.5, 0.0])


def test_official_rule_takes_top1_probability_whatever_the_tag() -> None:
    w = fusion_weights(PROBS[None], torch.tensor([0]), rule="official")[0]
    assert w.tolist() == pytest.approx([0.7, 0.6, 0.6])
    # num = [[0.7, 0.6], [0.6, 0]] -> min-max [[1, 6/7], [6/7, 0]].
    out = selective_fusion(CAMS, PROBS, 0, rule="official")
    assert torch.allclose(out, torch.tensor([[1.0, 6 / 7], [6 / 7, 0.0]]), atol=1e-6)


def test_average_rule_is_the_plain_mean() -> None:
    cams = torch.tensor(
        [
            [[0.0, 0.2], [0.4, 1.0]],
            [[1.0, 0.0], [0.5, 0.5]],
            [[0.5, 0.1], [0.0, 0.9]],
        ]
    )
    # mean = [[0.5, 0.1], [0.3, 0.8]] -> min-max [[4/7, 0], [2/7, 1]].
    out = selective_fusion(cams, PROBS, 2, rule="average")
    assert torch.allclose(out, torch.tensor([[4 / 7, 0.0], [2 / 7, 1.0]]), atol=1e-6)


def test_all_zero_weights_give_zeros_not_nan() -> None:
    # Tag 2 is nobody's top-1: lambda-only fusion, a constant map -> zeros after min-max.
    out = selective_fusion(CAMS, PROBS, 2, rule="paper")
    assert not torch.isnan(out).any()
    assert out.abs().sum() == 0
    assert selective_fusion(CAMS, PROBS, 2, rule="paper", lam=1e-12).abs().sum() == 0


def test_batched_equals_per_frame() -> None:
    g = torch.Generator().manual_seed(0)
    cams = torch.rand(4, 3, 5, 6, generator=g)
    probs = torch.softmax(torch.randn(4, 3, 7, generator=g) * 3, dim=2)
    tags = probs[:, 0].argmax(dim=1)  # at least the S net agrees with the tag
    for rule in ("paper", "official", "average"):
        batch = selective_fusion_batch(cams, probs, tags, rule=rule)
        assert batch.shape == (4, 5, 6)
        for i in range(4):
            single = selective_fusion(cams[i], probs[i], int(tags[i]), rule=rule)
            assert torch.allclose(batch[i], single)
            assert single.min() == 0 and single.max() == 1


@pytest.mark.parametrize(
    ("cams", "probs", "tag", "match"),
    [
        (CAMS[:2], PROBS, 0, r"\[B,3,H,W\]"),
        (CAMS[0], PROBS, 0, r"\[3,H,W\]"),
        (CAMS, PROBS[:2], 0, r"probs must be \[B,3,C\] matching"),
        (CAMS, PROBS[0], 0, r"probs must be \[3,C\]"),
        (CAMS, PROBS, 3, "tag out of range"),
        (CAMS, PROBS * 5, 0, "probabilities"),
    ],
)
def test_bad_shapes_raise(cams: torch.Tensor, probs: torch.Tensor, tag: int, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        selective_fusion(cams, probs, tag)


def test_bad_lambda_and_rule() -> None:
    with pytest.raises(ValueError, match="lam"):
        selective_fusion(CAMS, PROBS, 0, lam=0.0)
    with pytest.raises(KeyError, match="unknown SCAM fusion rule 'max'"):
        selective_fusion(CAMS, PROBS, 0, rule="max")


def test_the_rules_are_the_ones_the_config_allows() -> None:
    assert set(FUSION_RULES) == set(get_args(get_type_hints(ScamConfig)["rule"]))
