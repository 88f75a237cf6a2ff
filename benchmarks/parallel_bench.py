"""Two training processes side by side vs one after the other, on this machine's cores.

Why: a stage that uses every core beside another one that does too spins against it (seen here:
20x slower). Every avsal process takes ``numerics.thread_share()`` = cores / ``$AVSAL_PARALLEL``
threads (``avsal replicates --jobs`` and the tuning workers set it), and the portable numerics of
the pipeline pin ``runtime.cpu_threads`` (1). Each worker here is a real STA training loop
(``benchmarks/train_throughput.py``'s STA step: tiny backbone, 64 px, batch 8, SGD) started as
its own process, which sets its numerics the way the stage CLIs do.

Cases, each timed as the wall time of the whole case:
  sequential   A then B, each alone (``AVSAL_PARALLEL=1``)
  shared       A and B together, ``AVSAL_PARALLEL=2`` (what the queue and the tuning use)
  unshared     A and B together, each believing it is alone (native numerics only: the bug)

    python benchmarks/parallel_bench.py [--steps 60] [--numerics portable|native|both]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def worker(steps: int, mode: str) -> None:
    from avsal.utils import numerics

    numerics.apply(mode, threads=1)  # portable: pinned as params.yaml pins it; native: the share
    import torch

    sys.path.insert(0, str(Path(__file__).parent))
    from train_throughput import build, make_inputs, parse_args

    args = parse_args(["--device", "cpu", "--backbone", "tiny", "--size", "64", "--batch", "8"])
    net, loss_of = build("sta", args)
    x = make_inputs(args, torch.device("cpu"), False)
    opt = torch.optim.SGD(net.parameters(), lr=1e-3, momentum=0.9)
    t0 = time.perf_counter()
    for _ in range(steps):
        opt.zero_grad(set_to_none=True)
        loss_of(x).backward()
        opt.step()
    print(json.dumps({"seconds": time.perf_counter() - t0, "threads": torch.get_num_threads()}))


def _start(steps: int, mode: str, parallel: int) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    env["AVSAL_PARALLEL"] = str(parallel)
    cmd = [sys.executable, __file__, "--worker", "--steps", str(steps), "--numerics", mode]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, text=True)


def _finish(proc: subprocess.Popen) -> dict:
    out, _ = proc.communicate()
    if proc.returncode:
        raise SystemExit(f"worker failed ({proc.returncode})")
    return json.loads(out.strip().splitlines()[-1])


def case(name: str, steps: int, mode: str) -> dict:
    t0 = time.perf_counter()
    if name == "sequential":
        runs = [_finish(_start(steps, mode, 1)), _finish(_start(steps, mode, 1))]
    else:
        procs = [_start(steps, mode, 2 if name == "shared" else 1) for _ in range(2)]
        runs = [_finish(p) for p in procs]
    return {
        "case": name,
        "numerics": mode,
        "wall_s": round(time.perf_counter() - t0, 2),
        "loop_s": [round(r["seconds"], 2) for r in runs],
        "threads": [r["threads"] for r in runs],
    }


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--steps", type=int, default=60, help="training steps per worker")
    ap.add_argument("--numerics", default="both", choices=("portable", "native", "both"))
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--out", type=Path, default=REPO / "reports" / "bench" / "parallel.json")
    args = ap.parse_args()
    if args.worker:
        return worker(args.steps, args.numerics)
    modes = ("portable", "native") if args.numerics == "both" else (args.numerics,)
    rows = []
    for mode in modes:
        names = ("sequential", "shared") + (("unshared",) if mode == "native" else ())
        for name in names:
            rows.append(case(name, args.steps, mode))
            print(json.dumps(rows[-1]))
    for mode in modes:
        seq = next(r["wall_s"] for r in rows if r["numerics"] == mode and r["case"] == "sequential")
        for r in rows:
            if r["numerics"] == mode:
                r["vs_sequential"] = round(r["wall_s"] / seq, 2)
    record = {"cpus": len(os.sched_getaffinity(0)), "steps": args.steps, "cases": rows}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, indent=1) + "\n")
    print("| numerics | case | threads | wall s | x sequential |\n|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['numerics']} | {r['case']} | {r['threads']} | {r['wall_s']} | {r['vs_sequential']} |"
        )
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
