"""`avsal predict --model runs:/... | models:/...` and `mlflow models serve` of the registered
STA net, on a real AVE clip: the net is rebuilt from the params it carries (not params.yaml),
gives the maps the state_dict file gives, and a real serving process answers the same maps."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import torch

from avsal.config import load_config
from avsal.inference import load_model
from avsal.inference.predict import model_inputs, predict_maps, to_video_size
from avsal.inference.source import read_source

pytestmark = pytest.mark.slow

CLIP = "0lFf-HP86Q0.mp4"  # 320x240 at 17.6 fps
#: the trained net differs from params.yaml's: loading it by params.yaml would not fit
TRAINED = {"model.audio_widths": [8, 16, 32, 32]}
N_SERVED = 3  # frames posted to the server (the payload is JSON)


@pytest.fixture(scope="module")
def registered(tmp_path_factory, repo_root, real_samples):
    """An STA net (with switch) registered as avsal-sta/1 in a fresh sqlite store."""
    from avsal.stages.common import build_net
    from avsal.tracking import Tracker, check_store
    from avsal.training.checkpoint import save_state_dict

    tmp = tmp_path_factory.mktemp("registry")
    uri = f"sqlite:///{tmp / 'mlflow.db'}"
    check_store(uri)
    cfg = load_config(repo_root / "params.yaml", TRAINED)
    torch.manual_seed(0)
    switch = build_net(cfg, "audio_switch", num_classes=None)
    net = build_net(cfg, "sta", num_classes=None, switch=switch)
    state = tmp / "sta.pt"
    save_state_dict(state, net.state_dict())
    loaded = load_model(str(state), cfg)
    src = read_source(real_samples / "ave_clips" / CLIP, model_fps=cfg.prepare.fps)
    with model_inputs(loaded, src) as ds:
        example = {k: v[None].numpy() for k, v in ds[0].items() if k in ("frame", "clip", "audio")}
    tracker = Tracker(experiment="avsal", repo_root=tmp, tracking_uri=uri, group_by_pipeline=False)
    with tracker.run("train_sta", {"a": 1}) as run:
        version = run.register_torch_model(
            name="avsal-sta",
            state_dict_path=state,
            builder="avsal.stages.sta:serving_net",
            builder_kwargs={"params": cfg.to_dict(), "with_switch": True},
            input_example=example,
        )
    return {"uri": uri, "cfg": cfg, "state": state, "run_id": run.run_id, "version": version}


@pytest.fixture
def store_env(registered, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", registered["uri"])
    return registered


def test_models_uri_rebuilds_the_net_from_its_own_params(store_env, repo_root, real_samples):
    today = load_config(repo_root / "params.yaml")  # what the checkout says now
    with pytest.raises(ValueError, match="does not fit"):
        load_model(str(store_env["state"]), today)  # the bare file needs the training params
    by_registry = load_model("models:/avsal-sta/1", today)
    by_run = load_model(f"runs:/{store_env['run_id']}/model", today)
    assert tuple(by_registry.cfg.model.audio_widths) == (8, 16, 32, 32) and by_registry.with_switch
    assert by_registry.source == "models:/avsal-sta/1"
    src = read_source(real_samples / "ave_clips" / CLIP, model_fps=by_registry.cfg.prepare.fps)
    want = predict_maps(load_model(str(store_env["state"]), store_env["cfg"]), src, device="cpu")
    for model in (by_registry, by_run):
        got = predict_maps(model, src, device="cpu")
        assert got.shape == want.shape == (len(src.frames), 240, 320)
        np.testing.assert_array_equal(got, want)


def test_unknown_model_uri_is_one_clear_error(store_env, repo_root):
    with pytest.raises(ValueError, match="models:/avsal-sta/9: cannot load"):
        load_model("models:/avsal-sta/9", load_config(repo_root / "params.yaml"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_mlflow_models_serve_answers_the_maps_of_avsal_predict(store_env, real_samples, tmp_path):
    port = _free_port()
    env = {
        **os.environ,
        "MLFLOW_TRACKING_URI": store_env["uri"],
        "MLFLOW_DISABLE_TELEMETRY": "true",
    }
    mlflow = str(Path(sys.executable).parent / "mlflow")
    cmd = [mlflow, "models", "serve", "-m", "models:/avsal-sta/1", "--env-manager", "local",
           "-h", "127.0.0.1", "-p", str(port), "-w", "1"]  # fmt: skip
    log = tmp_path / "serve.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            cmd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, log.read_text()[-3000:]
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            assert time.monotonic() < deadline, (
                "server not up in 120 s:\n" + log.read_text()[-3000:]
            )
            time.sleep(0.5)
        model = load_model("models:/avsal-sta/1", store_env["cfg"])
        src = read_source(real_samples / "ave_clips" / CLIP, model_fps=model.cfg.prepare.fps)
        with model_inputs(model, src) as ds:
            items = [ds[i] for i in range(N_SERVED)]
        batch = {k: np.stack([it[k].numpy() for it in items]) for k in ("frame", "clip", "audio")}
        body = json.dumps({"inputs": {k: v.tolist() for k, v in batch.items()}}).encode()
        req = urllib.request.Request(
            f"http://127.0.0.1:{port}/invocations",
            data=body,
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=120) as r:
            served = np.asarray(json.loads(r.read())["predictions"], np.float32)  # [B, 1, h, w]
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)
    assert served.shape[:2] == (N_SERVED, 1)
    want = predict_maps(model, src, device="cpu")[:N_SERVED]
    np.testing.assert_allclose(to_video_size(served[:, 0], 240, 320), want, atol=1e-5)
