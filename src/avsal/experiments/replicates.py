"""Replicate seeds the DVC way: N experiments that differ only in ``project.seed``.

``queue_replicates`` stages them (``dvc exp run --queue -S project.seed=<s>``), ``run_queue``
runs them (``dvc queue start -j <jobs>``) and waits, ``collect`` reads each finished
experiment's per-video claim evidence (``reports/claim_videos.csv``, git-tracked, so it is in
the experiment's commit) from its git ref, keeps those of the current commit whose params equal
the workspace's but for the seed, and writes them to one file that the claims stage folds in.

Why files from git refs rather than ``dvc exp show``: the evidence is a table, not a metric,
and an experiment's commit holds it exactly as its run wrote it.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from avsal.config import Config, ConfigError, from_dict
from avsal.utils.hashing import digest
from avsal.utils.io import atomic_write_bytes
from avsal.utils.numerics import PARALLEL_ENV

__all__ = [
    "REPLICATE_COLUMNS",
    "NOT_PIPELINE_PARAMS",
    "params_key",
    "replicate_seeds",
    "queue_replicates",
    "run_queue",
    "collect",
    "read_replicates",
    "write_replicates",
]

EVIDENCE = "reports/claim_videos.csv"  # what each run writes (stage claims), relative to the repo
REPLICATE_COLUMNS = ["claim", "metric", "stratum", "seed", "dataset", "video", "diff",
                     "n_frames", "experiment", "params_key"]  # fmt: skip


#: params that no `dvc repro` stage reads (the tuning campaign's own): not part of a run's key
NOT_PIPELINE_PARAMS = ("tune",)
#: dvc.lock deps that are code (what a replicate must share with HEAD)
CODE_DIRS = ("src/", "pipelines/")


def params_key(cfg: Config) -> str:
    """Digest of every pipeline param but ``project.seed``: runs with equal keys are replicates.

    The claims stage depends on exactly these params in dvc.yaml (a test checks), so a change
    of any of them reruns it and drops replicates that no longer match.
    """
    params = {k: v for k, v in cfg.to_dict(identity=True).items() if k not in NOT_PIPELINE_PARAMS}
    params["project"] = {k: v for k, v in params["project"].items() if k != "seed"}
    return digest(params)


def replicate_seeds(base_seed: int, n: int) -> list[int]:
    """``n`` seeds after the current one (the current run is the first replicate)."""
    if n < 1:
        raise ValueError(f"the number of replicates must be >= 1, got {n}")
    return [base_seed + k for k in range(1, n + 1)]


def _run(
    cmd: list[str], root: Path, *, check: bool = True, env: dict[str, str] | None = None
) -> str:
    done = subprocess.run(cmd, cwd=root, capture_output=True, text=True, env=env)
    if check and done.returncode:
        raise RuntimeError(
            f"{' '.join(cmd)} failed ({done.returncode}): {done.stderr.strip()[-800:]}"
        )
    return done.stdout


def queue_replicates(seeds: list[int], *, root: Path) -> list[str]:
    """Stage one experiment per seed in DVC's queue; returns their names (``seed-<s>``)."""
    names = []
    for s in seeds:
        name = f"seed-{s}"
        _run(["dvc", "exp", "run", "--queue", "-S", f"project.seed={s}", "-n", name], root)
        names.append(name)
    return names


def _queue_counts(root: Path) -> dict[str, int]:
    """Tasks by state from ``dvc queue status`` (Queued, Running, Success, Failed)."""
    counts: dict[str, int] = {}
    for line in _run(["dvc", "queue", "status"], root).splitlines():
        for state in ("Queued", "Running", "Success", "Failed"):
            if f" {state} " in f" {line} ":
                counts[state] = counts.get(state, 0) + 1
    return counts


def run_queue(
    *, root: Path, jobs: int, poll_s: float = 5.0, say: Callable[[str], None] | None = None
) -> dict[str, int]:
    """``dvc queue start -j jobs`` and wait until nothing is queued or running."""
    say = say or (lambda msg: print(msg, file=sys.stderr))
    # the queue's workers inherit it: each stage they run takes cores / jobs threads
    env = {**os.environ, PARALLEL_ENV: str(jobs)}
    _run(["dvc", "queue", "start", "-j", str(jobs)], root, env=env)
    last = None
    while True:
        counts = _queue_counts(root)
        if counts != last:
            say("dvc queue: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
            last = counts
        if not counts.get("Queued") and not counts.get("Running"):
            return counts
        time.sleep(poll_s)


def _exp_refs(root: Path, baselines: list[str]) -> list[tuple[str, str, str]]:
    """(name, commit, baseline) of every experiment whose baseline is one of ``baselines``."""
    out = _run(["git", "for-each-ref", "--format=%(refname) %(objectname)", "refs/exps/"], root)
    wanted = set(baselines)
    refs = []
    for line in out.splitlines():
        ref, sha = line.split()
        parts = ref.split("/")  # refs/exps/<sha[:2]>/<sha[2:]>/<name>
        if len(parts) == 5 and parts[2] + parts[3] in wanted:
            refs.append((parts[4], sha, parts[2] + parts[3]))
    return sorted(refs)


def code_md5s(lock_text: str) -> dict[tuple[str, str], str]:
    """``{(stage, path): md5}`` of the code a pipeline ran: every dvc.lock dep under ``src/``
    or ``pipelines/`` (data and artifacts differ between seeds; code must not)."""
    lock = yaml.safe_load(lock_text) or {}
    return {
        (stage, dep["path"]): str(dep.get("md5"))
        for stage, entry in (lock.get("stages") or {}).items()
        for dep in (entry or {}).get("deps") or []
        if str(dep.get("path", "")).startswith(CODE_DIRS)
    }


def collect(
    cfg: Config, *, root: Path, params_file: str = "params.yaml", lock_file: str = "dvc.lock"
) -> pd.DataFrame:
    """Evidence of every finished replicate of HEAD with the workspace's params but the seed.

    "Of HEAD": the experiment started from HEAD, or from an ancestor commit and ran the same
    code (every stage's ``src/``/``pipelines/`` deps have HEAD's md5s in dvc.lock), so commits
    that touch no stage's code (docs, tools) may land while replicates run.
    """
    ancestors = _run(["git", "rev-list", "--max-count=200", "HEAD"], root).split()
    head_code = code_md5s(_run(["git", "show", f"HEAD:{lock_file}"], root, check=False))
    key = params_key(cfg)
    parts = []
    for name, sha, baseline in _exp_refs(root, ancestors):
        try:
            raw = yaml.safe_load(_run(["git", "show", f"{sha}:{params_file}"], root))
            exp_cfg = from_dict(Config, raw, source=f"{name}:{params_file}")
            text = _run(["git", "show", f"{sha}:{EVIDENCE}"], root)
            table = pd.read_csv(io.StringIO(text), dtype={"stratum": str}, keep_default_na=False)
            exp_code = code_md5s(_run(["git", "show", f"{sha}:{lock_file}"], root, check=False))
        except (
            RuntimeError,
            ValueError,
            ConfigError,
        ) as exc:  # not a finished run of this pipeline
            print(f"replicates: skipped experiment {name}: {exc}", file=sys.stderr)
            continue
        if params_key(exp_cfg) != key or exp_cfg.project.seed == cfg.project.seed:
            continue
        if baseline != ancestors[0] and exp_code != head_code:
            print(f"replicates: skipped experiment {name}: it ran other code", file=sys.stderr)
            continue
        parts.append(table.assign(experiment=name, params_key=key))
    if not parts:
        return pd.DataFrame(columns=REPLICATE_COLUMNS)
    out = pd.concat(parts, ignore_index=True)[REPLICATE_COLUMNS]
    key_cols = ["claim", "metric", "stratum", "seed", "dataset", "video"]
    return out.drop_duplicates(key_cols).sort_values(key_cols, ignore_index=True)


def write_replicates(records: pd.DataFrame, path: str | Path) -> Path:
    return atomic_write_bytes(path, records.to_csv(index=False, float_format="%.6g").encode())


def read_replicates(path: str | Path, cfg: Config) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The replicate evidence that belongs to ``cfg`` (same params but the seed), and why any
    other was left out (another params key: the params changed since they were collected)."""
    path = Path(path)
    if not path.is_file():
        return pd.DataFrame(columns=REPLICATE_COLUMNS), {"file": str(path), "found": False}
    table = pd.read_csv(path, dtype={"params_key": str, "stratum": str}, keep_default_na=False)
    mine = table[(table["params_key"] == params_key(cfg)) & (table["seed"] != cfg.project.seed)]
    stale = sorted(int(s) for s in table.loc[~table.index.isin(mine.index), "seed"].unique())
    return mine, {"file": str(path), "found": True, "stale_seeds": stale}
