"""The tune section: typed and checked at load; the splits; best_params.yaml round trips."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
import yaml

from avsal.config import ConfigError, load_config
from avsal.metric_names import METRICS


def _params(tmp_path: Path, repo_root: Path, mutate) -> Path:
    raw = yaml.safe_load((repo_root / "params.yaml").read_text())
    mutate(raw["tune"])
    p = tmp_path / "params.yaml"
    p.write_text(yaml.safe_dump(raw, sort_keys=False))
    return p


def test_params_yaml_space_is_typed_and_holds_the_current_params(cfg):
    from avsal.tuning import baseline_params

    t = cfg.tune
    assert t.objective.metrics == ("cc", "nss") and t.objective.direction == "maximize"
    assert (t.split.fold, t.split.side) == (cfg.evaluate.fold, "train")
    for key in (
        "scam.crop_k",
        "scam.lam",
        "scam.rule",
        "scam.temporal_postprocess",
        "evaluate.blur_sigma",
        "coarse.train.lr",
        "fine.train.lr",
        "sta.train.lr",
    ):
        assert key in t.space, key
    assert t.space["scam.lam"].log and t.space["scam.rule"].choices == (
        "paper",
        "official",
        "average",
    )
    params, off = baseline_params(cfg)
    assert (
        off == [] and params["scam.rule"] == cfg.scam.rule
    )  # the first trial is the default params


def test_objective_metrics_are_the_engines(tmp_path, repo_root):
    """The config checks the objective against the one list of names, the one the engine computes."""
    from avsal.metrics.engine import METRICS as ENGINE_METRICS

    assert tuple(ENGINE_METRICS) == METRICS
    p = _params(tmp_path, repo_root, lambda t: t["objective"].__setitem__("metrics", list(METRICS)))
    assert load_config(p).tune.objective.metrics == METRICS


@pytest.mark.parametrize(
    "mutate, message",
    [
        (
            lambda t: t["space"].__setitem__(
                "scam.lamda", {"type": "float", "low": 0.1, "high": 1.0}
            ),
            "not a param",
        ),
        (
            lambda t: t["space"].__setitem__("scam", {"type": "float", "low": 0.1, "high": 1.0}),
            "not a param",
        ),
        (
            lambda t: t["space"].__setitem__(
                "paths.artifacts", {"type": "categorical", "choices": ["a"]}
            ),
            "only params of",
        ),
        (
            lambda t: t["space"].__setitem__("evaluate.fold", {"type": "int", "low": 1, "high": 3}),
            "not evaluate.fold",
        ),
        (
            lambda t: t["space"].__setitem__(
                "scam.rule", {"type": "float", "low": 0.1, "high": 1.0}
            ),
            "does not fit",
        ),
        (
            lambda t: t["space"].__setitem__(
                "scam.rule", {"type": "categorical", "choices": ["paper", "nope"]}
            ),
            "expected one of",
        ),
        (
            lambda t: t["space"].__setitem__(
                "scam.temporal_postprocess", {"type": "categorical", "choices": ["yes"]}
            ),
            "true or false",
        ),
        (
            lambda t: t["space"].__setitem__(
                "scam.crop_k", {"type": "float", "low": 3.0, "high": 1.0}
            ),
            "must be below",
        ),
        (
            lambda t: t["space"].__setitem__(
                "scam.lam", {"type": "float", "low": 0.0, "high": 1.0, "log": True}
            ),
            "low > 0",
        ),
        (
            lambda t: t["space"].__setitem__(
                "scam.post_window", {"type": "int", "low": 3, "high": 7.5}
            ),
            "integer",
        ),
        (
            lambda t: t["space"].__setitem__(
                "coarse.input_size", {"type": "categorical", "choices": [32]}
            ),
            "only scalar",
        ),
        (
            lambda t: t["space"].__setitem__("scam.crop_k", {"type": "float", "low": 1.0}),
            "needs 'low' and 'high'",
        ),
        (
            lambda t: t["space"].__setitem__(
                "scam.crop_k", {"type": "uniform", "low": 1.0, "high": 2.0}
            ),
            "expected one of",
        ),
        (lambda t: t["fixed"].__setitem__("sta.train.epochs", "four"), "must be an integer"),
        (lambda t: t["fixed"].__setitem__("scam.lam", 0.1), "both name"),
        (lambda t: t["objective"].__setitem__("metrics", ["cc", "auc"]), "tune.objective.metrics"),
        (lambda t: t.__setitem__("split", {"fold": 1, "side": "test"}), "is the reporting split"),
        (lambda t: t.__setitem__("sets", ["MIT1003"]), "not in datasets.fixation_sets"),
        (lambda t: t.__setitem__("storage", "optuna.db"), "tune.storage"),
        (lambda t: t.__setitem__("grace_period", 5), "grace_period > heartbeat_interval"),
    ],
)
def test_bad_tune_section_is_refused_at_load(tmp_path, repo_root, mutate, message):
    with pytest.raises(ConfigError, match=message):
        load_config(_params(tmp_path, repo_root, mutate))


def test_a_config_without_tune_section_still_loads(tmp_path, repo_root):
    raw = yaml.safe_load((repo_root / "params.yaml").read_text())
    raw.pop("tune")
    p = tmp_path / "params.yaml"
    p.write_text(yaml.safe_dump(raw))
    assert load_config(p).tune.space == {}  # e.g. params recorded with older registry models


def test_overlapping_splits_are_refused_before_anything_starts(
    tiny_world_copy, cfg, tmp_path, monkeypatch
):
    """Fold 2's train side holds fold 1's test (reporting) videos: no campaign, no study."""
    import dataclasses

    from avsal.tuning import SplitOverlapError, check_splits, run_campaign

    scfg, data = tiny_world_copy
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'never.db'}")
    paths = dataclasses.replace(
        cfg.paths,
        data=str(data),
        ave_root=str(data / "AVE_Dataset"),
        fixation_root=str(data / "fixations"),
        artifacts=str(tmp_path / "artifacts"),
        reports=str(tmp_path / "reports"),
    )
    ok = dataclasses.replace(
        cfg,
        paths=paths,
        synth=scfg,
        datasets=dataclasses.replace(cfg.datasets, fixation_sets=("AVAD", "DIEM")),
    )
    sizes = check_splits(ok)
    assert all(v["tuning"] > 0 and v["reporting"] > 0 for v in sizes.values())
    bad = dataclasses.replace(
        ok, tune=dataclasses.replace(ok.tune, split=dataclasses.replace(ok.tune.split, fold=2))
    )
    with pytest.raises(SplitOverlapError, match=r"share videos \(AVAD: AVAD_v0"):
        run_campaign(bad, study="overlap", trials=2)
    assert not (tmp_path / "artifacts").exists() and not (tmp_path / "never.db").exists()


def test_cli_reports_the_overlap_as_a_config_error(tiny_world_copy, tmp_path, repo_root, capsys):
    from avsal.cli import main

    _, data = tiny_world_copy
    raw = yaml.safe_load((repo_root / "params.yaml").read_text())
    raw["paths"].update(
        ave_root=str(data / "AVE_Dataset"),
        fixation_root=str(data / "fixations"),
        artifacts=str(tmp_path / "a"),
    )
    raw["datasets"]["fixation_sets"] = ["AVAD"]
    p = tmp_path / "params.yaml"
    p.write_text(yaml.safe_dump(raw))
    assert (
        main(
            ["--params", str(p), "-S", "tune.split.fold=2", "tune", "--study", "x", "--trials", "1"]
        )
        == 2
    )
    assert "share videos" in capsys.readouterr().err


def test_best_params_yaml_applies_with_load_config_and_the_printed_command(tmp_path, repo_root):
    from avsal.config import parse_overrides
    from avsal.tuning import dvc_command, read_best_params, write_best_params

    best = {
        "scam.crop_k": 2.25,
        "scam.lam": 1e-05,
        "scam.rule": "official",
        "scam.temporal_postprocess": True,
        "scam.post_window": 7,
        "coarse.train.lr": 0.001,
        "evaluate.blur_sigma": 1.5,
    }
    path = write_best_params(tmp_path / "best_params.yaml", best, header="a header\n\nApply: ...")
    text = path.read_text()
    assert text.startswith("# a header\n#\n# Apply") and "scam.lam: 1.0e-05" in text
    flat = read_best_params(path)
    assert flat == best
    cfg = load_config(repo_root / "params.yaml", flat)
    assert (cfg.scam.crop_k, cfg.scam.lam, cfg.scam.rule, cfg.scam.temporal_postprocess) == (
        2.25,
        1e-05,
        "official",
        True,
    )
    assert (
        cfg.scam.post_window == 7
        and cfg.coarse.train.lr == 0.001
        and cfg.evaluate.blur_sigma == 1.5
    )
    cmd = shlex.split(dvc_command(best))
    assert cmd[:3] == ["dvc", "exp", "run"] and cmd[3::2] == ["-S"] * len(best)
    assert parse_overrides(cmd[4::2]) == best  # what `dvc exp run -S` / `avsal -S` read back


def test_trial_params_are_retyped_and_rechecked(cfg):
    from avsal.config import with_overrides

    out = with_overrides(
        cfg, {"scam.lam": 1e-3, "sta.train.lr": 0.005, "scam.post_window": 3}, source="<trial>"
    )
    assert (out.scam.lam, out.sta.train.lr, out.scam.post_window) == (
        1e-3,
        0.005,
        3,
    ) and out.coarse == cfg.coarse
    assert out.params_file == "<trial>"
    with pytest.raises(ConfigError, match="scam.rule"):
        with_overrides(cfg, {"scam.rule": "bogus"})
    with pytest.raises(ConfigError, match="unknown key"):
        with_overrides(cfg, {"scam.lamda": 1.0})


def test_suggestions_cover_every_type(cfg):
    import optuna

    from avsal.tuning.space import suggest

    fixed = {
        "scam.crop_k": 2.5,
        "scam.lam": 3e-5,
        "scam.rule": "average",
        "scam.temporal_postprocess": True,
        "scam.post_window": 7,
        "scam.post_mult": 1.5,
        "evaluate.blur_sigma": 0.7,
        "coarse.train.lr": 0.001,
        "fine.train.lr": 0.003,
        "sta.train.lr": 0.002,
    }
    assert suggest(optuna.trial.FixedTrial(fixed), cfg.tune.space) == fixed


def test_storage_urls():
    from avsal.tuning.storage import redact, resolve_url

    assert redact("postgresql://me:s3cr3t@db:5432/optuna") == "postgresql://me:***@db:5432/optuna"
    assert redact("sqlite:////a/b.db") == "sqlite:////a/b.db"
    assert resolve_url("journal:runs/x.log") == f"journal:{Path('runs/x.log').resolve()}"
    assert resolve_url("sqlite:///x.db") == f"sqlite:///{Path('x.db').resolve()}"
    assert resolve_url("postgresql://h/db") == "postgresql://h/db"


def test_study_names_must_be_folder_safe(cfg):
    from avsal.tuning import run_campaign

    with pytest.raises(ValueError, match="study name"):
        run_campaign(cfg, study="../escape", trials=1)


def test_only_the_tuning_package_imports_optuna(repo_root):
    import re

    pattern = re.compile(r"^\s*(import optuna|from optuna)", re.M)
    offenders = [
        str(p.relative_to(repo_root))
        for p in sorted((repo_root / "src").rglob("*.py"))
        if "avsal/tuning/" not in p.as_posix() and pattern.search(p.read_text())
    ]
    assert offenders == []
