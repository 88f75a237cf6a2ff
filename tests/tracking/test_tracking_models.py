"""Model registry round trip: a keyword-tensor net registered as a models-from-code pyfunc with a
signature (no pickled module), loaded back by name/version, same outputs as the original."""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
import numpy as np
import pytest
import torch
from mlflow import MlflowClient
from tracking_toys import build_toy


@pytest.fixture
def toy(tmp_path):
    torch.manual_seed(0)
    net = build_toy(frame_dim=5, audio_dim=3, classes=4).eval()
    path = tmp_path / "toy_state.pt"
    torch.save(net.state_dict(), path)
    rng = np.random.default_rng(0)
    example = {
        "frame": rng.standard_normal((2, 5)).astype(np.float32),
        "audio": rng.standard_normal((2, 3)).astype(np.float32),
    }
    return net, path, example


def test_register_load_and_predict_same_as_module(tracker, toy, tmp_path):
    net, state_path, example = toy
    with tracker.run("train_sta") as run:
        mv = run.register_torch_model(
            name="toy-sta",
            state_dict_path=state_path,
            builder="tracking_toys:build_toy",
            builder_kwargs={"frame_dim": 5, "audio_dim": 3, "classes": 4},
            input_example=example,
        )
    assert (mv.name, mv.version, mv.run_id, mv.model_uri) == (
        "toy-sta", "1", run.run_id, "models:/toy-sta/1",
    )  # fmt: skip

    model = mlflow.pyfunc.load_model("models:/toy-sta/1")
    sig = model.metadata.signature
    assert sig.inputs.input_names() == ["frame", "audio"]
    assert [s.type for s in sig.inputs.inputs] == [np.dtype("float32")] * 2
    assert [s.shape for s in sig.inputs.inputs] == [(-1, 5), (-1, 3)]
    assert sig.outputs.input_names() == ["logits", "probs"]

    rng = np.random.default_rng(1)  # a new batch size: the batch dimension is free
    batch = {
        "frame": rng.standard_normal((7, 5)).astype(np.float32),
        "audio": rng.standard_normal((7, 3)).astype(np.float32),
    }
    out = model.predict(batch)
    with torch.no_grad():
        ref = net(frame=torch.from_numpy(batch["frame"]), audio=torch.from_numpy(batch["audio"]))
    np.testing.assert_allclose(out["logits"], ref["logits"].numpy(), rtol=0, atol=1e-6)
    np.testing.assert_allclose(out["probs"], ref["probs"].numpy(), rtol=0, atol=1e-6)

    # nothing pickled: code file + state_dict + builder spec
    local = Path(
        mlflow.artifacts.download_artifacts("models:/toy-sta/1", dst_path=str(tmp_path / "dl"))
    )
    files = {p.relative_to(local).as_posix() for p in local.rglob("*") if p.is_file()}
    assert not [f for f in files if f.endswith((".pkl", ".pickle", ".cloudpickle"))], files
    assert {"torch_pyfunc.py", "artifacts/toy_state.pt", "artifacts/builder.json"} <= files
    assert json.loads((local / "artifacts" / "builder.json").read_text()) == {
        "builder": "tracking_toys:build_toy",
        "kwargs": {"frame_dim": 5, "audio_dim": 3, "classes": 4},
        "predict_fn": "forward",
    }
    assert MlflowClient(tracker.tracking_uri).get_model_version("toy-sta", "1").run_id == run.run_id


def test_second_version_by_run_id_after_the_run_with_another_method(tracker, toy):
    from avsal.tracking import register_torch_model

    net, state_path, example = toy
    kwargs = dict(
        state_dict_path=state_path,
        builder="tracking_toys:build_toy",
        builder_kwargs={"frame_dim": 5, "audio_dim": 3, "classes": 4},
        input_example=example,
    )
    with tracker.run("v1") as run1:
        run1.register_torch_model(name="toy-sal", **kwargs)
    with tracker.run("v2") as run2:
        pass
    mv = register_torch_model(run2.run_id, name="toy-sal", predict_fn_name="saliency", **kwargs)
    assert mv.version == "2"
    client = MlflowClient(tracker.tracking_uri)
    assert client.get_run(run2.run_id).info.status == "FINISHED"  # resumed, then restored

    out = mlflow.pyfunc.load_model(mv.model_uri).predict(example)
    with torch.no_grad():
        ref = net.saliency(**{k: torch.from_numpy(v) for k, v in example.items()})
    np.testing.assert_allclose(out, ref.numpy(), rtol=0, atol=1e-6)


def test_bad_builder_fails_before_logging(tracker, toy):
    _, state_path, example = toy
    with tracker.run("bad") as run, pytest.raises(ValueError, match="package.module:function"):
        run.register_torch_model(
            name="never", state_dict_path=state_path, builder="tracking_toys.build_toy",
            builder_kwargs={}, input_example=example,
        )  # fmt: skip
    assert MlflowClient(tracker.tracking_uri).search_registered_models() == []
