"""Helpers for the tracking tests: a tiny keyword-tensor net (importable builder for the model
registry round trip), a clean environment for subprocesses, and a real `mlflow server`."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch
from torch import nn

HERE = Path(__file__).resolve().parent
VENV_BIN = Path(sys.executable).parent
# Variables that would leak the pytest process's tracking context into a child.
LEAKY_ENV = (
    "AVSAL_PIPELINE_ID",
    "MLFLOW_TRACKING_URI",
    "MLFLOW_REGISTRY_URI",
    "MLFLOW_RUN_ID",
    "MLFLOW_EXPERIMENT_NAME",
    "MLFLOW_EXPERIMENT_ID",
    "DVC_ROOT",
    "DVC_STAGE",
)


class ToyNet(nn.Module):
    """Takes keyword tensors like the avsal nets (``model(frame=..., audio=...)``)."""

    def __init__(self, frame_dim: int = 5, audio_dim: int = 3, classes: int = 4) -> None:
        super().__init__()
        self.frame = nn.Linear(frame_dim, classes)
        self.audio = nn.Linear(audio_dim, classes)

    def forward(self, frame: torch.Tensor, audio: torch.Tensor) -> dict[str, torch.Tensor]:
        logits = self.frame(frame) + self.audio(audio)
        return {"logits": logits, "probs": logits.softmax(-1)}

    def saliency(self, frame: torch.Tensor, audio: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.frame(frame) * self.audio(audio))


def build_toy(frame_dim: int = 5, audio_dim: int = 3, classes: int = 4) -> ToyNet:
    """The builder the registry names as ``tracking_toys:build_toy``."""
    return ToyNet(frame_dim=frame_dim, audio_dim=audio_dim, classes=classes)


def child_env(**extra: str) -> dict[str, str]:
    """os.environ minus tracking context, plus quiet MLflow and this folder on the path."""
    env = {k: v for k, v in os.environ.items() if k not in LEAKY_ENV}
    env["MLFLOW_DISABLE_TELEMETRY"] = "true"
    env["DVC_NO_ANALYTICS"] = "1"
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(HERE), env.get("PYTHONPATH")) if p)
    env.update(extra)
    return env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stop_group(proc: subprocess.Popen) -> None:
    """Stop the server's own process group (uvicorn + its workers), bounded."""
    if proc.poll() is not None:
        return
    for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


@contextmanager
def mlflow_server(workdir: Path, backend_uri: str, *, wait_s: float = 40) -> Iterator[str]:
    """A real ``mlflow server`` on 127.0.0.1:<free port>; yields its http URI; stopped after."""
    port = free_port()
    log = workdir / "mlflow-server.log"
    cmd = [
        str(VENV_BIN / "mlflow"), "server",
        "--backend-store-uri", backend_uri,
        "--artifacts-destination", str(workdir / "server-artifacts"),
        "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
    ]  # fmt: skip
    env = child_env(MLFLOW_SERVER_ENABLE_JOB_EXECUTION="false")  # no job consumer processes
    with log.open("w") as out:
        proc = subprocess.Popen(
            cmd, cwd=workdir, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    uri = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + wait_s
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"mlflow server exited ({proc.returncode}):\n{log.read_text()}")
            try:
                with urllib.request.urlopen(f"{uri}/health", timeout=2) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"mlflow server not healthy in {wait_s}s:\n{log.read_text()}")
            time.sleep(0.25)
        yield uri
    finally:
        _stop_group(proc)
