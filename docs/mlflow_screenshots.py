"""Screenshots of the MLflow UI over this checkout's store (the README's pictures).

Starts ``mlflow server`` on ``mlflow/mlflow.db`` (127.0.0.1, a free port), opens the runs table
in headless Chromium (Debian's, driven by Playwright) with the newest pipeline's parent run
unfolded onto its stage runs, and the comparison page of the two newest parents:

    python docs/mlflow_screenshots.py [--out docs]   # after `make repro` (two parents or more)
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
VIEW = "workflowType=machine_learning"


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--out", type=Path, default=REPO / "docs")
    args = ap.parse_args()
    from mlflow import MlflowClient
    from playwright.sync_api import sync_playwright

    db = f"sqlite:///{REPO / 'mlflow' / 'mlflow.db'}"
    client = MlflowClient(db)
    exp = client.get_experiment_by_name("avsal").experiment_id
    parents = client.search_runs(
        [exp], "tags.`avsal.run_kind` = 'pipeline'", order_by=["start_time DESC"], max_results=2
    )
    if len(parents) < 2:
        raise SystemExit("needs two pipeline runs in mlflow/mlflow.db (run `dvc repro` twice)")
    port = _port()
    mlflow = str(Path(sys.executable).parent / "mlflow")
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"}
    proc = subprocess.Popen(
        [mlflow, "server", "--backend-store-uri", db, "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2):
                    break
            except OSError:
                time.sleep(0.5)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path=shutil.which("chromium"), args=["--no-sandbox"]
            )
            page = browser.new_page(viewport={"width": 1500, "height": 820})
            page.goto(f"{url}/#/experiments/{exp}/runs?{VIEW}")
            newest = parents[0].info.run_id
            row = page.locator(f'[role="row"][row-id="{newest}"]').first
            row.wait_for(timeout=60_000)
            row.locator('button[data-component-id*="runnamecellrenderer"]').click()
            page.get_by_text("train_sta@sta").first.wait_for(timeout=30_000)
            page.keyboard.press("Escape")
            page.screenshot(path=str(args.out / "mlflow_runs.png"))
            ids = ",".join(f"%22{p.info.run_id}%22" for p in parents)
            page.goto(f"{url}/#/compare-runs?runs=[{ids}]&experiments=[%22{exp}%22]&{VIEW}")
            page.get_by_text("mean/stanet/cc").first.wait_for(timeout=60_000)
            page.screenshot(path=str(args.out / "mlflow_compare.png"), full_page=True)
            browser.close()
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
    print(f"wrote {args.out / 'mlflow_runs.png'} and {args.out / 'mlflow_compare.png'}")


if __name__ == "__main__":
    main()
