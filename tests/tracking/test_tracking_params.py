"""Params flattening: dotted keys, stringified lists, MLflow's limits, batching into a real store."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from avsal.tracking.params import MAX_PARAM_VALUE_LEN, batched, flatten_params, sanitize_key

REPO = Path(__file__).resolve().parents[2]


def test_flatten_nested_lists_and_scalars():
    flat = flatten_params(
        {
            "project": {"name": "avsal", "seed": 0},
            "synth": {"categories": ["Church bell", "Violin, fiddle"], "split": (0.8, 0.1, 0.1)},
            "train": {"opt": {"lr": 1e-3, "nesterov": True}, "resume": None, "extra": {}},
            "path": Path("a/b"),
        }
    )
    assert flat == {
        "project.name": "avsal",
        "project.seed": "0",
        "synth.categories": '["Church bell", "Violin, fiddle"]',
        "synth.split": "[0.8, 0.1, 0.1]",
        "train.opt.lr": "0.001",
        "train.opt.nesterov": "True",
        "train.resume": "None",
        "train.extra": "{}",
        "path": "a/b",
    }
    assert json.loads(flat["synth.categories"]) == ["Church bell", "Violin, fiddle"]


def test_long_values_truncated_to_limit_and_still_distinct():
    a, b = "x" * 5000 + "a", "x" * 5000 + "b"
    flat = flatten_params({"a": a, "b": b, "short": "y" * MAX_PARAM_VALUE_LEN})
    assert len(flat["a"]) == MAX_PARAM_VALUE_LEN == len(flat["b"])
    assert flat["a"] != flat["b"]  # the hash suffix keeps different values different
    assert flat["short"] == "y" * MAX_PARAM_VALUE_LEN  # exactly at the limit: untouched
    assert len(flatten_params({"a": a}, max_value_len=50)["a"]) == 50


def test_keys_made_valid_for_mlflow():
    assert sanitize_key("fixation_sets.Violin, fiddle") == "fixation_sets.Violin_ fiddle"
    assert sanitize_key("a/../b") == "a/_/b"
    long = sanitize_key("k" * 400)
    assert len(long) == 250 and long != sanitize_key("k" * 401)


def test_dataclass_and_to_dict_inputs():
    @dataclasses.dataclass(frozen=True)
    class Inner:
        lr: float = 0.1

    @dataclasses.dataclass(frozen=True)
    class Outer:
        inner: Inner = Inner()
        tags: tuple[str, ...] = ("a", "b")

    assert flatten_params(Outer()) == {"inner.lr": "0.1", "tags": '["a", "b"]'}


def test_batched():
    assert [len(b) for b in batched(range(250), 100)] == [100, 100, 50]
    assert list(batched([], 100)) == []


def test_real_config_logs_in_batches_and_reads_back(tracker):
    """The project's own params.yaml (well over 100 params) goes through a real store intact."""
    from mlflow import MlflowClient

    from avsal.config import load_config

    cfg = load_config(REPO / "params.yaml")
    extra = {f"k{i:03d}": i for i in range(150)}  # force >1 batch whatever params.yaml holds
    nested = {**cfg.to_dict(), "extra": extra, "long": "z" * 2000}
    with tracker.run("params", nested) as run:
        pass
    expected = flatten_params(nested)
    assert len(expected) > 200
    got = MlflowClient(tracker.tracking_uri).get_run(run.run_id).data.params
    assert got == expected
    assert got["project.name"] == cfg.project.name
    assert len(got["long"]) == MAX_PARAM_VALUE_LEN
    # the full nested params (not truncated) are an artifact of the run
    path = MlflowClient(tracker.tracking_uri).download_artifacts(run.run_id, "params.json")
    full = json.loads(Path(path).read_text())
    assert full["long"] == "z" * 2000 and full["extra"]["k149"] == 149
