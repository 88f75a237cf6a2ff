"""The whole pipeline with the real dvc CLI, in a temporary copy of the repo, on the tiny profile.

Checks: `dvc repro` runs every stage end to end; a second `dvc repro` has nothing to do; a change
of one SCAM parameter reruns only the stages downstream of it; every training stage logged an
MLflow run with params, per-epoch metrics and provenance tags to the repo's sqlite store.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.slow

COPY = [
    "src",
    "pipelines",
    "profiles",
    "references",
    "dvc.yaml",
    "params.yaml",
    "pyproject.toml",
    ".dvcignore",
    "reports/replicate_videos.csv",  # the claims stage's dep: replicate seeds (none yet)
]


def _run(
    cmd: list[str], cwd: Path, env: dict[str, str], timeout: int = 600
) -> subprocess.CompletedProcess:
    res = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    if res.returncode != 0:
        raise AssertionError(
            f"{' '.join(cmd)} failed ({res.returncode}):\n{res.stdout[-4000:]}\n{res.stderr[-4000:]}"
        )
    return res


@pytest.fixture(scope="module")
def repo(tmp_path_factory, repo_root: Path):
    from avsal.config import load_profile

    root = tmp_path_factory.mktemp("pipeline") / "repo"
    root.mkdir()
    for name in COPY:
        src = repo_root / name
        if src.is_dir():
            shutil.copytree(src, root / name, ignore=shutil.ignore_patterns("__pycache__"))
        elif src.exists():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(src, root / name)
    merged = load_profile(repo_root / "params.yaml", repo_root / "profiles" / "tiny.yaml")
    (root / "params.yaml").write_text(yaml.safe_dump(merged, sort_keys=False))
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("MLFLOW_TRACKING_URI", "DVC_", "AVSAL_PIPELINE_ID"))
    }
    env["PATH"] = f"{Path(sys.executable).parent}:{env['PATH']}"
    env["MLFLOW_DISABLE_TELEMETRY"] = "true"
    env["PYTHONPATH"] = str(root / "src")  # the copy's code, not the checkout's
    env["AVSAL_RECORD_MODULES"] = str(
        root.parent / "modules"
    )  # each stage: the avsal modules it loaded
    _run(["git", "init", "-q"], root, env)
    _run(["git", "config", "user.email", "ci@example.com"], root, env)
    _run(["git", "config", "user.name", "ci"], root, env)
    _run(["dvc", "init", "-q"], root, env)
    _run(["dvc", "config", "core.analytics", "false"], root, env)
    _run([sys.executable, "-m", "avsal.cli", "synth", "--out", "data"], root, env)
    _run(["dvc", "add", "-q", "data"], root, env)
    _run(["git", "add", "-A"], root, env)
    _run(["git", "commit", "-qm", "init"], root, env)
    return root, env


def test_repro_end_to_end_then_up_to_date_then_partial_rerun(repo):
    root, env = repo
    _run(["dvc", "repro"], root, env, timeout=900)
    for rel in [
        "reports/evaluate.json",
        "reports/ablations.json",
        "reports/report.md",
        "reports/claims.json",
        "reports/validation_pseudo.json",
    ]:
        assert (root / rel).is_file(), rel
    assert (root / "dvc.lock").is_file()
    status = _run(["dvc", "status"], root, env).stdout
    assert "up to date" in status, status
    again = _run(["dvc", "repro"], root, env).stdout
    assert "Running stage" not in again, again

    boxes = root / "artifacts" / "pseudo" / "coarse" / "boxes.npy"
    boxes_before = boxes.read_bytes()
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["scam"]["lam"] = 0.01
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    out = _run(["dvc", "repro"], root, env, timeout=900).stdout
    ran = {line.split("'")[1] for line in out.splitlines() if line.startswith("Running stage")}
    assert not ran & {
        "prepare",
        "validate_raw",
        "audio_switch",
        "train_cls@coarse-s",
        "train_cls@coarse-sa",
        "cams@coarse",
    }, ran
    assert "scam@coarse" in ran, ran
    # the fine nets read the coarse SCAM through its crop boxes only (dvc.yaml deps)
    assert ("train_cls@fine-s" in ran) == (boxes.read_bytes() != boxes_before), ran


def test_avsal_score_gives_the_evaluate_stage_numbers(repo):
    """`avsal score` on the pipeline's own predictions = reports/evaluate.json (one code path)."""
    import json

    root, env = repo
    out = root.parent / "scores"
    cmd = [sys.executable, "-m", "avsal.cli", "score", "artifacts/predictions/sta"]
    _run([*cmd, "--split", "reporting", "--out", str(out)], root, env)
    ours = json.loads((root / "reports" / "evaluate.json").read_text())["results"]["STANet (ours)"]
    got = {}
    for row in json.loads((out / "sets.json").read_text()):
        got.setdefault(row["dataset"], {})[row["metric"]] = round(row["value"], 4)
    assert got == ours


def test_dvc_yaml_deps_cover_the_modules_each_stage_loaded(repo):
    """The honest list: the modules each stage process really had loaded when it finished."""
    import json

    from dvc.repo import Repo

    sys.path.insert(0, str(Path(__file__).parents[1] / "pipelines"))
    from module_deps import uncovered

    root, _ = repo
    records = {
        r["stage"]: r["modules"]
        for r in (json.loads(p.read_text()) for p in (root.parent / "modules").glob("*.json"))
    }
    with Repo(str(root)) as dvc_repo:
        stages = {st.name: [d.def_path for d in st.deps] for st in dvc_repo.index.stages if st.cmd}
    assert set(records) == set(stages), set(stages) ^ set(records)  # every stage ran and recorded
    problems = [
        f"{name}: dvc.yaml deps miss {m}"
        for name, mods in sorted(records.items())
        for m in uncovered("src", set(mods), stages[name], root / "src")
    ]
    assert not problems, "\n".join(problems)


def test_mlflow_runs_logged(repo):
    root, env = repo
    code = (
        "import mlflow, json;"
        f"mlflow.set_tracking_uri('sqlite:///{root}/mlflow/mlflow.db');"
        "runs = mlflow.search_runs(search_all_experiments=True);"
        "parents = runs[runs['tags.avsal.run_kind'] == 'pipeline'];"
        "print(json.dumps({'names': sorted(set(runs['tags.mlflow.runName'])), 'cols': list(runs.columns),"
        " 'parent_cc': [float(v) for v in parents['metrics.mean/stanet/cc']]}))"
    )
    res = _run([sys.executable, "-c", code], root, env)
    import json

    info = json.loads(res.stdout.strip().splitlines()[-1])
    assert {"train_cls@coarse-s", "train_sta@sta", "evaluate", "audio_switch"} <= set(
        info["names"]
    ), info["names"]
    cols = set(info["cols"])
    assert "tags.avsal.pipeline_id" in cols and "tags.avsal.git.commit" in cols
    assert "tags.avsal.run_kind" in cols and "tags.mlflow.parentRunId" in cols
    assert any(c.startswith("params.train.") or c.startswith("params.sta.") for c in cols)
    assert any(c.startswith("metrics.train/loss") for c in cols)
    # the report's headline is on the pipeline's parent run: what comparing parents shows
    report = json.loads((root / "reports" / "metrics.json").read_text())
    assert report["mean"]["stanet"]["cc"] in info["parent_cc"]
