from pathlib import Path

import pytest
import yaml

from avsal.config import Config, ConfigError, load_config, with_overrides


def _write(tmp_path: Path, mutate) -> Path:
    raw = yaml.safe_load((Path(__file__).resolve().parents[1] / "params.yaml").read_text())
    mutate(raw)
    p = tmp_path / "params.yaml"
    p.write_text(yaml.safe_dump(raw))
    return p


def test_params_yaml_loads_frozen_and_typed(cfg):
    assert isinstance(cfg, Config)
    assert cfg.synth.categories == cfg.ave.categories
    assert "Violin, fiddle" in cfg.ave.categories  # a comma inside a category name survives
    assert isinstance(cfg.synth.fps, float) and isinstance(cfg.synth.clip_seconds, int)
    with pytest.raises(AttributeError):
        cfg.project.seed = 3  # frozen


def test_unknown_key_names_key_and_file(tmp_path):
    p = _write(tmp_path, lambda r: r["synth"].__setitem__("clip_secnds", 3))
    with pytest.raises(ConfigError, match=r"params\.yaml.*synth\.clip_secnds"):
        load_config(p)


def test_unknown_top_level_section(tmp_path):
    p = _write(tmp_path, lambda r: r.__setitem__("trainng", {}))
    with pytest.raises(ConfigError, match="trainng"):
        load_config(p)


def test_missing_key_is_an_error(tmp_path):
    p = _write(tmp_path, lambda r: r["paths"].pop("ave_root"))
    with pytest.raises(ConfigError, match=r"missing key 'paths\.ave_root'"):
        load_config(p)


def test_wrong_type_is_an_error(tmp_path):
    p = _write(tmp_path, lambda r: r["synth"].__setitem__("clips_per_category", "ten"))
    with pytest.raises(ConfigError, match="'synth.clips_per_category' must be an integer"):
        load_config(p)


def test_nested_set_spec_is_checked(tmp_path):
    p = _write(tmp_path, lambda r: r["synth"]["fixation_sets"]["AVAD"].__setitem__("observerz", 3))
    with pytest.raises(ConfigError, match="observerz"):
        load_config(p)


def test_unknown_fixation_set(tmp_path):
    p = _write(tmp_path, lambda r: r["datasets"].__setitem__("fixation_sets", ["AVAD", "MIT1003"]))
    with pytest.raises(ConfigError, match="MIT1003"):
        load_config(p)


def test_overrides(tmp_path):
    p = _write(tmp_path, lambda r: None)
    assert load_config(p, {"synth.seed": 7}).synth.seed == 7
    with pytest.raises(ConfigError, match="unknown key 'sed'"):
        load_config(p, {"synth.sed": 7})


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.yaml")


def test_with_overrides_retypes_and_rechecks_like_a_params_file(cfg):
    out = with_overrides(
        cfg, {"scam.lam": 1, "sta.train.lr": 0.005, "scam.post_window": 3}, source="trial 3"
    )
    assert isinstance(out.scam.lam, float) and out.scam.lam == 1.0  # int -> float, as from the file
    assert (out.sta.train.lr, out.scam.post_window) == (0.005, 3) and out.coarse == cfg.coarse
    assert out.params_file == "trial 3" and cfg.params_file.endswith(
        "params.yaml"
    )  # cfg is untouched
    assert with_overrides(cfg, {}).params_file == "<overrides>"


@pytest.mark.parametrize(
    "params, message",
    [
        ({"scam.lamda": 1.0}, r"^trial 3: override 'scam.lamda': unknown key 'lamda'$"),
        ({"scam.lam.x": 1.0}, r"^trial 3: override 'scam.lam.x': 'lam' is not a section$"),
        ({"scam.rule": "bogus"}, r"^trial 3: 'scam.rule' = 'bogus', expected one of"),
        (
            {"model.clip_frames": 4},
            r"^trial 3: model.clip_frames must be odd",
        ),  # a cross-field check
        (
            {"tune.split.side": "test"},
            r"^trial 3: tune.split .* is the reporting split",
        ),  # a tune check
    ],
)
def test_with_overrides_refuses_what_a_params_file_would(cfg, params, message):
    with pytest.raises(ConfigError, match=message):
        with_overrides(cfg, params, source="trial 3")


def test_importing_the_config_does_not_import_torch():
    """The config package is torch-free at import (the metric names are imported by the check)."""
    import subprocess
    import sys

    code = "import avsal.config, sys; print('torch' in sys.modules)"
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert res.stdout.strip() == "False"


def test_synth_formats_are_optional_checked_and_keyless_at_their_default(repo_root):
    """``synth.formats`` (added with the scale world) may be absent; while empty it leaves the
    params identity (replicates' key) as it was before the key existed; set, it changes it."""
    import dataclasses

    from avsal.config import ClipFormat, ConfigError, load_config, load_profile, with_overrides
    from avsal.experiments import params_key

    cfg = load_config(repo_root / "params.yaml")
    assert cfg.synth.formats == ()
    assert "formats" not in cfg.to_dict(identity=True)["synth"]
    assert "formats" in cfg.to_dict()["synth"]
    scaled = dataclasses.replace(
        cfg, synth=dataclasses.replace(cfg.synth, formats=(ClipFormat(320, 240, 17.6),))
    )
    assert params_key(scaled) != params_key(cfg)
    merged = load_profile(repo_root / "params.yaml", repo_root / "profiles" / "scale.yaml")
    assert len(merged["synth"]["formats"]) == 3  # a profile may set a key params.yaml omits
    with pytest.raises(ConfigError, match=r"synth.formats\[0\] needs .* height divisible by 4"):
        with_overrides(cfg, {"synth.formats": [{"width": 320, "height": 238, "fps": 25.0}]})
