"""The whole pipeline with the real dvc CLI, in a temporary copy of the repo, on the tiny profile.

Checks: `dvc repro` runs every stage end to end; a second `dvc repro` has nothing to do; a change
of one SCAM parameter reruns only the stages downstream of it; every training stage logged an
MLflow run with params, per-epoch metrics and provenance tags to the repo's sqlite store.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.slow


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
    """The tiny profile in a sandbox (experiments.sandbox: the code `avsal sandbox` runs)."""
    from avsal.experiments.sandbox import create_sandbox

    base = tmp_path_factory.mktemp("pipeline")
    sandbox, world = create_sandbox(
        repo_root,
        base / "repo",
        profiles=("profiles/tiny.yaml",),
        record_modules=base / "modules",  # each stage: the avsal modules it loaded
    )
    assert world["clips"] > 0
    return sandbox.root, sandbox.env


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


def test_map_stores_written_in_small_chunks_are_the_same_bytes(repo):
    """CAMs, pseudo-GT, method maps and predictions streamed one inference batch (or one clip)
    per chunk: every output keeps its bytes, so `dvc status` stays clean."""
    root, env = repo
    code = (
        "from avsal.config import load_config; from avsal.utils import numerics;"
        "cfg = load_config('params.yaml');"
        "numerics.apply(cfg.runtime.cpu_numerics, threads=cfg.runtime.cpu_threads);"
        "from avsal.stages.cams import run_cams, run_scam;"
        "from avsal.stages.method_maps import run as method_maps;"
        "from avsal.stages.sta import run_predict;"
        "[f(cfg, stage=s, chunk_bytes=1) for s in ('coarse', 'fine') for f in (run_cams, run_scam)];"
        "[method_maps(cfg, name=n, chunk_bytes=1) for n in cfg.datasets.fixation_sets];"
        "[run_predict(cfg, name=n, chunk_bytes=1) for n in cfg.datasets.fixation_sets]"
    )
    _run([sys.executable, "-c", code], root, env)
    status = _run(["dvc", "status"], root, env).stdout
    assert "up to date" in status, status


def test_each_stage_recorded_its_time_and_peak_memory(repo):
    import json

    root, _ = repo
    records = [json.loads(p.read_text()) for p in (root.parent / "repo.resources").glob("*.json")]
    stages = {r["stage"] for r in records}
    assert {"prepare", "train_sta@sta", "report"} <= stages, stages
    for r in records:
        assert r["anon_mib"] > 10 and r["rss_mib"] >= r["anon_mib"] and r["seconds"] >= 0, r


def test_a_reopened_sandbox_reruns_one_stage_and_keeps_the_rest(repo, repo_root):
    """What `benchmarks/memory_scaling.py --remeasure` does: the code copied in again, one stage
    forced, its record replaced, the others' records and every output kept."""
    from avsal.experiments.sandbox import SandboxError, reopen_sandbox

    root, _ = repo
    before = {p.name: p.read_text() for p in (root.parent / "repo.resources").glob("*.json")}
    sandbox = reopen_sandbox(repo_root, root)
    ran = sandbox.repro("--force", "--single-item", "validate_raw")
    assert ran["ran"] == ["validate_raw"], ran
    after = {p.name: p.read_text() for p in sandbox.resources_dir.glob("*.json")}
    assert after.keys() == before.keys()
    assert after["validate_raw.json"] != before["validate_raw.json"]  # measured again
    assert {k: v for k, v in after.items() if k != "validate_raw.json"} == {
        k: v for k, v in before.items() if k != "validate_raw.json"
    }
    status = sandbox.run(["dvc", "status"]).stdout
    assert "up to date" in status, status
    with pytest.raises(SandboxError, match="not a sandbox"):
        reopen_sandbox(repo_root, root.parent / "modules")
