"""Profiles: the paper's builds its models and runs one training step on tiny inputs."""

import dataclasses

import pytest
import torch

from avsal.config import Config, ConfigError, from_dict, load_profile
from avsal.stages.common import build_net, cls_loss


def test_paper_profile_matches_the_paper(repo_root):
    merged = load_profile(repo_root / "params.yaml", repo_root / "profiles" / "paper.yaml")
    cfg = from_dict(Config, merged)
    assert cfg.model.backbone == "vgg16"
    assert (
        cfg.coarse.input_size == (256, 256)
        and cfg.fine.input_size == (356, 356)
        and cfg.sta.input_size == (356, 356)
    )
    assert (
        cfg.coarse.train.batch_size == 20
        and cfg.fine.train.batch_size == 3
        and cfg.sta.train.batch_size == 3
    )
    for spec in (cfg.coarse.train, cfg.fine.train, cfg.sta.train):
        assert spec.optimizer == "sgd" and spec.lr == 1e-3
    assert len(cfg.ave.categories) == 28


@pytest.mark.slow
def test_paper_profile_builds_and_steps(repo_root):
    merged = load_profile(repo_root / "params.yaml", repo_root / "profiles" / "paper.yaml")
    cfg = from_dict(Config, merged)
    cfg = dataclasses.replace(
        cfg, model=dataclasses.replace(cfg.model, pretrained=False)
    )  # no network in tests
    c = len(cfg.ave.categories)
    frame, clip, audio = (
        torch.rand(2, 3, 32, 32),
        torch.rand(2, 3, 5, 32, 32),
        torch.randn(2, 1, 64, 101),
    )
    batch = {"frame": frame, "clip": clip, "audio": audio, "target": torch.eye(c)[:2]}
    switch = build_net(cfg, "audio_switch", num_classes=None)
    for kind in ("s", "st", "sa"):
        net = build_net(cfg, kind, num_classes=c, switch=switch if kind == "sa" else None)
        opt = torch.optim.SGD(
            [p for p in net.parameters() if p.requires_grad], lr=cfg.coarse.train.lr, momentum=0.9
        )
        loss, _ = cls_loss(kind)(net, batch)
        loss.backward()
        opt.step()
        assert torch.isfinite(loss)
    sta = build_net(cfg, "sta", num_classes=None, switch=switch)
    out = sta.forward_logits(frame=frame, clip=clip, audio=audio)
    assert out.shape == (2, 1, 32, 32)
    torch.nn.functional.binary_cross_entropy_with_logits(out, torch.rand_like(out)).backward()


def test_profile_with_unknown_key_is_refused(tmp_path, repo_root):
    bad = tmp_path / "bad.yaml"
    bad.write_text("coarse:\n  input_sise: [1, 1]\n")
    with pytest.raises(ConfigError, match="coarse.input_sise"):
        load_profile(repo_root / "params.yaml", bad)
