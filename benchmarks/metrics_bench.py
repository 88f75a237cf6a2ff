"""Metric throughput: a plain per-frame numpy port of the MIT code vs the batched engine.

Scores one synthetic video (default 500 frames at 360x640, about 30 fixations per frame) with
the six metrics (the paper's five plus KLD) three ways and checks that they agree:

(a) ``baseline``: per-frame numpy written straight from the MIT ``code_forMetrics`` files
    (loops over thresholds and splits, as in MATLAB), kept here as the yardstick. Its random
    numbers come from the project's streams (:mod:`avsal.metrics.streams`), so that its results
    can be compared number for number;
(b) ``engine-cpu``: :func:`avsal.metrics.engine.score_video` on the CPU;
(c) ``engine-cuda``: the same on CUDA, when a GPU is present.

Times include everything from host arrays to per-frame scores (jitter and s-AUC draws, transfers);
each implementation runs ``--repeat`` times and the best time counts. Prints a Markdown table
(with the machine's load average: on a shared machine the numbers move with it) and writes JSON
to ``--out``.

    python benchmarks/metrics_bench.py [--frames 500] [--device all|cpu|cuda] [--out PATH]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import time
from pathlib import Path

import cv2
import numpy as np
import torch

from avsal.metrics.engine import METRICS, PAPER_METRICS, score_video
from avsal.metrics.streams import jitter_noise, metric_rng, sample_subsets
from avsal.utils.memory import keep_freed_memory

VIDEO = "bench"

# ----------------------------------------------------------------------------- (a) MIT baseline


def mit_auc_judd(sal: np.ndarray, fix: np.ndarray, noise: np.ndarray) -> float:
    """MIT AUC_Judd.m, line by line (jitter passed in: rand(size)/1e7 from the shared stream)."""
    if not np.any(fix):
        return math.nan
    sal = sal + noise
    sal = (sal - sal.min()) / (sal.max() - sal.min())
    S = sal.ravel()
    F = fix.ravel()
    Sth = S[F > 0]
    Nfixations = Sth.size
    Npixels = S.size
    allthreshes = np.sort(Sth)[::-1]
    tp = np.zeros(Nfixations + 2)
    fp = np.zeros(Nfixations + 2)
    tp[-1] = 1
    fp[-1] = 1
    for i in range(Nfixations):
        thresh = allthreshes[i]
        aboveth = np.sum(S >= thresh)
        tp[i + 1] = (i + 1) / Nfixations
        fp[i + 1] = (aboveth - (i + 1)) / (Npixels - Nfixations)
    return float(np.trapezoid(tp, fp))


def mit_auc_shuffled(
    sal: np.ndarray,
    fix: np.ndarray,
    other: np.ndarray,
    rng: np.random.Generator,
    n_splits: int = 100,
    step: float = 0.1,
) -> float:
    """MIT AUC_shuffled.m, line by line; the subset draw is the project's (row-major candidates)."""
    if not np.any(fix):
        return math.nan
    sal = (sal - sal.min()) / (sal.max() - sal.min())
    S = sal.ravel()
    F = fix.ravel()
    Oth = other.ravel()
    Sth = S[F > 0]
    Nfixations = Sth.size
    ind = np.flatnonzero(Oth > 0)
    Nfixations_oth = min(Nfixations, ind.size)
    randind = sample_subsets(rng, ind.size, Nfixations_oth, n_splits)
    auc = np.full(n_splits, math.nan)
    for s in range(n_splits):
        curfix = S[ind[randind[s]]]
        top = max(Sth.max(), curfix.max())
        allthreshes = np.arange(math.floor(top / step + 1e-9), -1, -1) * step  # fliplr(0:step:max)
        tp = np.zeros(allthreshes.size + 2)
        fp = np.zeros(allthreshes.size + 2)
        tp[-1] = 1
        fp[-1] = 1
        for i, thresh in enumerate(allthreshes):
            tp[i + 1] = np.sum(Sth >= thresh) / Nfixations
            fp[i + 1] = np.sum(curfix >= thresh) / Nfixations_oth
        auc[s] = np.trapezoid(tp, fp)
    return float(np.mean(auc))


def mit_nss(sal: np.ndarray, fix: np.ndarray) -> float:
    """MIT NSS.m: z-score with MATLAB std (ddof=1), mean at fixations."""
    m = (sal - sal.mean()) / sal.std(ddof=1)
    return float(np.mean(m[fix > 0]))


def mit_cc(sal: np.ndarray, gt: np.ndarray) -> float:
    """MIT CC.m: z-score both maps, then corr2."""
    a = (sal - sal.mean()) / sal.std(ddof=1)
    b = (gt - gt.mean()) / gt.std(ddof=1)
    a = a - a.mean()
    b = b - b.mean()
    return float((a * b).sum() / math.sqrt((a * a).sum() * (b * b).sum()))


def mit_similarity(sal: np.ndarray, gt: np.ndarray) -> float:
    """MIT similarity.m: min-max, divide by the sum, sum of minima."""
    if np.any(sal):
        sal = (sal - sal.min()) / (sal.max() - sal.min())
        sal = sal / sal.sum()
    if np.any(gt):
        gt = (gt - gt.min()) / (gt.max() - gt.min())
        gt = gt / gt.sum()
    return float(np.minimum(sal, gt).sum())


def mit_kldiv(sal: np.ndarray, gt: np.ndarray) -> float:
    """MIT KLdiv.m: both maps divided by their sum, eps-regularised KL(gt || sal)."""
    eps = np.finfo(np.float64).eps
    if np.any(sal):
        sal = sal / sal.sum()
    if np.any(gt):
        gt = gt / gt.sum()
    return float(np.sum(gt * np.log(eps + gt / (sal + eps))))


def run_baseline(
    preds: np.ndarray,
    fix: np.ndarray,
    gt: np.ndarray,
    seed: int,
    metrics: tuple[str, ...] = METRICS,
) -> dict[str, np.ndarray]:
    """The STAViS per-frame loop: shuffle map = union of the video's fixations minus the frame's."""
    shuf = fix.any(axis=0)
    out = {m: np.full(len(preds), math.nan) for m in metrics}
    for t in range(len(preds)):
        sal = preds[t].astype(np.float64)
        g = gt[t].astype(np.float64)
        if "auc_judd" in metrics:
            noise = jitter_noise(metric_rng(seed, VIDEO, t, "auc_judd"), sal.shape)
            out["auc_judd"][t] = mit_auc_judd(sal, fix[t], noise)
        if "auc_shuffled" in metrics:
            rng = metric_rng(seed, VIDEO, t, "auc_shuffled")
            out["auc_shuffled"][t] = mit_auc_shuffled(sal, fix[t], shuf & ~fix[t], rng)
        if "nss" in metrics:
            out["nss"][t] = mit_nss(sal, fix[t])
        if "cc" in metrics:
            out["cc"][t] = mit_cc(sal, g)
        if "sim" in metrics:
            out["sim"][t] = mit_similarity(sal, g)
        if "kld" in metrics:
            out["kld"][t] = mit_kldiv(sal, g)
    return out


# ----------------------------------------------------------------------------- data


def make_video(
    n_frames: int, height: int, width: int, n_fix: int, seed: int
) -> tuple[np.ndarray, ...]:
    """Smooth predictions with a centre bias, ~n_fix fixations per frame drawn near it, blurred GT."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width]
    centre = np.exp(
        -(((yy - height / 2) / (0.3 * height)) ** 2 + ((xx - width / 2) / (0.3 * width)) ** 2) / 2
    )
    preds = np.empty((n_frames, height, width), np.float32)
    fix = np.zeros((n_frames, height, width), bool)
    gt = np.empty((n_frames, height, width), np.float32)
    for t in range(n_frames):
        blobs = cv2.resize(
            rng.random((height // 16, width // 16)).astype(np.float32),
            (width, height),
            interpolation=cv2.INTER_CUBIC,
        )
        preds[t] = np.clip(blobs, 0, None) * centre
        ys = np.clip(rng.normal(height / 2, 0.2 * height, n_fix).round(), 0, height - 1).astype(int)
        xs = np.clip(rng.normal(width / 2, 0.2 * width, n_fix).round(), 0, width - 1).astype(int)
        fix[t, ys, xs] = True
        gt[t] = cv2.GaussianBlur(fix[t].astype(np.float32), (0, 0), 12)
    return preds, fix, gt


# ----------------------------------------------------------------------------- run


def timed(fn, repeat: int = 1):
    """Result and best wall time of ``repeat`` runs (the machine may be shared: best is cleanest)."""
    best = math.inf
    for _ in range(max(1, repeat)):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return result, best


def max_diff(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> dict[str, float]:
    """Largest |a - b| per metric; inf if the NaN patterns differ."""
    out = {}
    for m in a:
        if not np.array_equal(np.isnan(a[m]), np.isnan(b[m])):
            out[m] = math.inf
        else:
            d = np.abs(a[m] - b[m])
            out[m] = float(np.nanmax(d)) if np.isfinite(d).any() else 0.0
    return out


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--frames", type=int, default=500)
    ap.add_argument("--height", type=int, default=360)
    ap.add_argument("--width", type=int, default=640)
    ap.add_argument("--fixations", type=int, default=30)
    ap.add_argument(
        "--device",
        choices=["all", "cpu", "cuda"],
        default="all",
        help="engine devices (all: cpu, and cuda if present)",
    )
    ap.add_argument(
        "--chunk-size",
        type=int,
        default=None,
        help="frames per engine batch (default: the engine's)",
    )
    ap.add_argument(
        "--workers", type=int, default=None, help="engine worker threads (default: the engine's)"
    )
    ap.add_argument(
        "--metrics",
        default="all",
        help="'all' (the paper's five and KLD), 'paper' (the five), or a comma list",
    )
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    ap.add_argument(
        "--repeat", type=int, default=3, help="timed runs of each implementation; the best counts"
    )
    ap.add_argument("--out", type=Path, default=Path("reports/bench/metrics_bench.json"))
    ap.add_argument(
        "--default-malloc",
        action="store_true",
        help="keep glibc's default allocator settings (default: keep freed memory, as the "
        "avsal CLI and pipeline stages do; applies to every implementation alike)",
    )
    args = ap.parse_args(argv)
    if not args.default_malloc:
        keep_freed_memory()
    metrics = {"all": METRICS, "paper": PAPER_METRICS}.get(args.metrics) or tuple(
        args.metrics.split(",")
    )
    unknown = sorted(set(metrics) - set(METRICS))
    if unknown:
        ap.error(f"unknown metrics {unknown}; known: {', '.join(METRICS)}")
    if args.threads:
        torch.set_num_threads(args.threads)
    load_before = os.getloadavg()

    preds, fix, gt = make_video(args.frames, args.height, args.width, args.fixations, args.seed)
    runs: dict[str, dict] = {}
    baseline, sec = timed(lambda: run_baseline(preds, fix, gt, args.seed, metrics), args.repeat)
    runs["baseline (numpy, per frame, MIT loops)"] = {"seconds": sec, "scores": baseline}

    devices = ["cpu", "cuda"] if args.device == "all" else [args.device]
    if "cuda" in devices and not torch.cuda.is_available():
        if args.device == "cuda":
            raise SystemExit("--device cuda: no CUDA device")
        devices.remove("cuda")
    for dev in devices:

        def engine(dev=dev, n=args.frames):
            return score_video(
                preds[:n],
                fix[:n],
                gt[:n],
                metrics=metrics,
                seed=args.seed,
                video=VIDEO,
                device=dev,
                chunk_size=args.chunk_size,
                **({} if args.workers is None else {"workers": args.workers}),
            )

        # warm-up on the whole input: CUDA context, allocator, and torch.compile's kernels
        # (once per process; its cost is reported apart, not hidden in the best-of timing)
        _, warm = timed(engine, 1)
        if dev == "cuda":
            torch.cuda.synchronize()
        scores, sec = timed(engine, args.repeat)
        runs[f"engine-{dev} (torch, batched)"] = {
            "seconds": sec,
            "scores": scores,
            "warm_up_seconds": warm,
        }

    base_sec = runs["baseline (numpy, per frame, MIT loops)"]["seconds"]
    rows = []
    for name, run in runs.items():
        diff = max_diff(baseline, run["scores"])
        rows.append(
            {
                "implementation": name,
                "seconds": run["seconds"],
                "frames_per_s": args.frames / run["seconds"],
                "speedup_vs_baseline": base_sec / run["seconds"],
                "max_abs_diff_vs_baseline": max(diff.values()),
                "max_abs_diff_per_metric": diff,
                "warm_up_seconds": run.get("warm_up_seconds"),
            }
        )
    engines = [r for r in runs if r.startswith("engine")]
    cross = (
        max_diff(runs[engines[0]]["scores"], runs[engines[-1]]["scores"])
        if len(engines) == 2
        else None
    )
    means = {m: float(np.nanmean(baseline[m])) for m in metrics}

    print(
        f"\n{args.frames} frames at {args.height}x{args.width}, ~{args.fixations} fixations/frame, "
        f"metrics {', '.join(metrics)}; torch {torch.__version__}, {torch.get_num_threads()} CPU threads, "
        f"{os.cpu_count()} CPUs, load average {load_before[0]:.1f} before / "
        f"{os.getloadavg()[0]:.1f} after; best of {args.repeat}"
        + (f"; GPU {torch.cuda.get_device_name()}" if torch.cuda.is_available() else "")
    )
    print("\n| implementation | s | frames/s | speed-up vs (a) | max abs diff vs (a) |")
    print("|---|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['implementation']} | {r['seconds']:.2f} | {r['frames_per_s']:.1f} | "
            f"{r['speedup_vs_baseline']:.1f}x | {r['max_abs_diff_vs_baseline']:.2e} |"
        )
    print(
        "\n| metric | mean (a) | "
        + " | ".join(f"max abs diff {r['implementation'].split(' ')[0]} vs (a)" for r in rows[1:])
        + " |"
    )
    print("|---|---:|" + "---:|" * (len(rows) - 1))
    for m in metrics:
        print(
            f"| {m} | {means[m]:.4f} | "
            + " | ".join(f"{r['max_abs_diff_per_metric'][m]:.2e}" for r in rows[1:])
            + " |"
        )
    if cross is not None:
        print(f"\nengine-cpu vs engine-cuda: max abs diff {max(cross.values()):.2e}")
    disagreement = max([r["max_abs_diff_vs_baseline"] for r in rows] + list((cross or {}).values()))
    print(f"largest disagreement found: {disagreement:.2e}")
    for r in rows[1:]:
        print(
            f"{r['implementation'].split(' ')[0]} warm-up run (compiles on first use): "
            f"{r['warm_up_seconds']:.2f} s"
        )

    report = {
        "config": vars(args) | {"out": str(args.out)},
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "torch": torch.__version__,
            "torch_threads": torch.get_num_threads(),
            "gpu": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
            "load_average_before_after": [load_before[0], os.getloadavg()[0]],
        },
        "metric_means_baseline": means,
        "results": rows,
        "engine_cpu_vs_cuda_max_abs_diff": cross,
        "largest_disagreement": disagreement,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(report, indent=2))
    tmp.replace(args.out)
    print(f"wrote {args.out}")
    return report


if __name__ == "__main__":
    main()
