"""Peak memory of every stage at N and 4N clips: does any stage hold a set in memory?

Why: at the paper's scale (164k AVE frames, 460k fixation frames) a stage that keeps every
frame's CAM, pseudo-GT map or prediction in memory needs hundreds of GB.  This runs the whole
pipeline twice in sandboxes (``avsal sandbox``: a scratch git + DVC project, nothing of this
checkout touched) on the scale world (``profiles/scale.yaml``: 28 categories, mixed clip sizes
and rates, 720p fixation videos) with the embedded nets, a 360x360 frame cache (the paper's,
so the maps are paper-sized) and one epoch per net, at ``--clips`` clips per category and
``--videos`` videos per fixation set, then at 4x as many of both, and compares each stage's
peak ANONYMOUS memory (what it holds; the file-backed pages of memory-mapped caches are page
cache, reported beside it).  A bounded stage shows the same peak at N and 4N; one that grows
with the data shows ~4x its data part.

    python benchmarks/memory_scaling.py [--clips 1] [--videos 3] [--factor 4]
    python benchmarks/memory_scaling.py --remeasure prepare evaluate   # in the kept sandboxes

``--remeasure`` reruns only the named stages in the two sandboxes of an earlier run (this
checkout's code copied in again; params, world and the other stages' records kept) and
replaces their entries in the JSON: for a change to how memory is measured, not to a stage.
A stage whose outputs persist continues rather than recomputes (prepare finds its frame cache
and decodes nothing): remove such a stage's outputs in the sandboxes first.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

#: the memory run: the scale world, paper-sized cache and maps, embedded (tiny, fast) nets
OVERRIDES = [
    "synth.clip_seconds=4",
    "prepare.size=[360, 360]",
    "coarse.train.epochs=1",
    "fine.train.epochs=1",
    "tagger.train.epochs=1",
    "audio_switch.train.epochs=1",
    "sta.train.epochs=1",
    "validation.min_informative_pseudo=0.0",
]


SETS = ("AVAD", "DIEM", "SumMe", "ETMD", "Coutrot1", "Coutrot2")


def run(clips: int, videos: int, out_dir: Path) -> dict:
    """The pipeline with ``clips`` AVE clips per category and ``videos`` videos per fixation set."""
    cmd = [sys.executable, "-m", "avsal.cli", "sandbox", "--profile", "profiles/scale.yaml"]
    sizes = [f"synth.clips_per_category={clips}"]
    sizes += [f"synth.fixation_sets.{s}.videos={videos}" for s in SETS]
    for item in [*OVERRIDES, *sizes]:
        cmd += ["-S", item]
    cmd += ["--out", str(out_dir / f"clips{clips}")]
    t0 = time.perf_counter()
    res = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    if res.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{res.stderr[-3000:]}")
    out = json.loads(res.stdout)
    out["wall_s"] = round(time.perf_counter() - t0, 1)
    return out


def remeasure(stages: list[str], out_dir: Path, result: dict) -> dict:
    """Rerun ``stages`` in the sandboxes of ``result`` (an earlier run's JSON) and update it."""
    from avsal.experiments.sandbox import reopen_sandbox

    for label, clips in zip(_labels(result), result["clips_per_category"], strict=True):
        sandbox = reopen_sandbox(REPO, out_dir / f"clips{clips}")
        for stage in stages:
            print(f"{label}: {stage}", file=sys.stderr)
            sandbox.repro("--force", "--single-item", stage)
            result["stages"][label][stage] = sandbox.stages()[stage]
    result["remeasured"] = sorted(set(result.get("remeasured", [])) | set(stages))
    return result


def _labels(result: dict) -> list[str]:
    """The keys of ``result["stages"]`` in the order of ``clips_per_category`` (N, then kN):
    the JSON is written with sorted keys, so "4N" comes before "N" there."""
    n, n_large = result["clips_per_category"]
    return ["N", f"{n_large // n}N"]


def table(small: dict, large: dict, factor: int) -> str:
    lines = [
        f"| stage | peak anon MiB, N | peak anon MiB, {factor}N | ratio | file-backed MiB, N / {factor}N | s, N / {factor}N |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for stage in sorted(small["stages"]):
        a, b = small["stages"][stage], large["stages"].get(stage)
        if b is None:
            continue
        lines.append(
            f"| `{stage}` | {a['anon_mib']:.0f} | {b['anon_mib']:.0f} | "
            f"{b['anon_mib'] / a['anon_mib']:.2f} | {a['file_mib']:.0f} / {b['file_mib']:.0f} | "
            f"{a['seconds']:.0f} / {b['seconds']:.0f} |"
        )
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--clips", type=int, default=1, help="clips per category of the small run (N)")
    ap.add_argument("--videos", type=int, default=3, help="videos per fixation set, small run")
    ap.add_argument("--factor", type=int, default=4, help="the large run has factor x as many")
    ap.add_argument("--sandboxes", default=".sandbox/memory", help="where the two sandboxes go")
    ap.add_argument("--out", default="reports/bench/memory_scaling.json")
    ap.add_argument(
        "--remeasure", nargs="+", metavar="STAGE", help="rerun only these stages (see above)"
    )
    args = ap.parse_args()
    where, out = REPO / args.sandboxes, REPO / args.out
    if args.remeasure:
        result = remeasure(args.remeasure, where, json.loads(out.read_text()))
        out.write_text(json.dumps(result, indent=1, sort_keys=True) + "\n")
        small, large = ({"stages": result["stages"][k]} for k in _labels(result))
        n, n_large = result["clips_per_category"]
        print(table(small, large, n_large // n))
        print(f"-> {out}")
        return
    small = run(args.clips, args.videos, where)
    large = run(args.clips * args.factor, args.videos * args.factor, where)
    result = {
        "overrides": OVERRIDES,
        "clips_per_category": [args.clips, args.clips * args.factor],
        "videos_per_set": [args.videos, args.videos * args.factor],
        "world": [small["world"], large["world"]],
        "stages": {"N": small["stages"], f"{args.factor}N": large["stages"]},
        "wall_s": [small["wall_s"], large["wall_s"]],
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1, sort_keys=True) + "\n")
    print(table(small, large, args.factor))
    print(f"-> {out}")


if __name__ == "__main__":
    main()
