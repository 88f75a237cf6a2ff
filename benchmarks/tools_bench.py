"""Speed of the two stand-alone tools: ``avsal score`` and ``avsal predict``, on this machine.

score: a synthetic fixation set at 360x640 (``--videos`` x ``--frames``, the generator of the
embedded world) and one method's maps as 8-bit PNG files (the layout people share); times the
whole ``score_maps`` call (read + protocol + output) and, apart, reading the PNG files alone.

predict: the STA net of ``params.yaml`` (random weights: speed does not depend on them) on the
three real AVE clips of ``references/samples``; frames/s and the share spent decoding, from
each run's own ``predict.json`` timings (the process start is not included).

    python benchmarks/tools_bench.py [--videos 4] [--frames 150] [--threads N] [--numerics native]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]


def _world(root: Path, videos: int, frames: int):
    from avsal.config import FixationSetSynth, load_config
    from avsal.data.synth import generate_world

    cfg = load_config(REPO / "params.yaml")
    spec = FixationSetSynth(
        videos=videos, frames=frames, fps=25.0, width=640, height=360, observers=12,
        p_sounding=0.7, p_distractor=0.1, centre_bias=0.12, persistence=0.8,
        unseen_categories=False, folds=1,
    )  # fmt: skip
    scfg = dataclasses.replace(
        cfg.synth,
        categories=cfg.synth.categories[:2],
        clips_per_category=2,
        two_label_clips=0,
        clip_seconds=1,
        fixation_sets={"DIEM": spec},
    )
    generate_world(scfg, root)
    return cfg


def _write_maps(cfg, fix_root: Path, dst: Path) -> int:
    """Blurred GT maps plus noise as 8-bit PNGs (a plausible method's output); frame count."""
    from avsal.data.fixations import FixationSet
    from avsal.scoring.tool import select_videos

    rng = np.random.default_rng(0)
    total = 0
    for video in select_videos(cfg, FixationSet(fix_root, "DIEM"), "all"):
        vid = FixationSet(fix_root, "DIEM").video(video)
        n, _ = vid.check()
        (dst / "DIEM" / video).mkdir(parents=True)
        for i in range(n):
            m = vid.saliency_map(i).astype(np.float32)
            m = m / max(float(m.max()), 1e-6) + 0.2 * rng.random(m.shape, dtype=np.float32)
            img = np.clip(m / m.max() * 255, 0, 255).astype(np.uint8)
            cv2.imwrite(str(dst / "DIEM" / video / f"pred_{i + 1:05d}.png"), img)
        total += n
    return total


def bench_score(tmp: Path, videos: int, frames: int) -> dict:
    from avsal.config import parse_overrides
    from avsal.config.load import load_config
    from avsal.data.fixations import FixationSet
    from avsal.scoring.maps_folder import MapsFolder
    from avsal.scoring.tool import score_maps, select_videos

    cfg = _world(tmp / "data", videos, frames)
    fix_root = tmp / "data" / "fixations"
    cfg = load_config(
        REPO / "params.yaml",
        parse_overrides(
            [
                f"paths.fixation_root={fix_root}",
                "datasets.fixation_sets=[DIEM]",
                "runtime.device=cpu",
            ]
        ),
    )
    n_frames = _write_maps(cfg, fix_root, tmp / "maps")
    t0 = time.perf_counter()
    folder = MapsFolder(tmp / "maps")
    for video in select_videos(cfg, FixationSet(fix_root, "DIEM"), "all"):
        n, _ = FixationSet(fix_root, "DIEM").video(video).check()
        folder.load("DIEM", video, n)
    t_read = time.perf_counter() - t0
    score_maps(cfg, tmp / "maps", out=tmp / "warm", sets=["DIEM"])  # compile / warm caches
    t0 = time.perf_counter()
    res = score_maps(cfg, tmp / "maps", out=tmp / "scored", sets=["DIEM"])
    t_all = time.perf_counter() - t0
    return {
        "frames": n_frames,
        "size": "360x640",
        "metrics": res["metrics"],
        "s_auc_splits": res["protocol"]["s_auc_splits"],
        "seconds_total": round(t_all, 3),
        "seconds_read_png": round(t_read, 3),
        "frames_per_s_total": round(n_frames / t_all, 1),
        "frames_per_s_without_read": round(n_frames / max(t_all - t_read, 1e-9), 1),
        "read_share": round(t_read / t_all, 3),
    }


def bench_predict(tmp: Path) -> list[dict]:
    import torch

    from avsal.config import load_config
    from avsal.inference import load_model, predict_video
    from avsal.stages.common import build_net
    from avsal.training.checkpoint import save_state_dict

    cfg = load_config(REPO / "params.yaml")
    torch.manual_seed(0)
    net = build_net(
        cfg, "sta", num_classes=None, switch=build_net(cfg, "audio_switch", num_classes=None)
    )
    save_state_dict(tmp / "sta.pt", net.state_dict())
    model = load_model(str(tmp / "sta.pt"), cfg)
    rows = []
    clips = sorted((REPO / "references" / "samples" / "ave_clips").glob("*.mp4"))
    predict_video(model, clips[0], out=tmp / "warm", device="cpu")  # first-call costs
    for clip in clips:
        rec = predict_video(model, clip, out=tmp / "pred", device="cpu")
        s = rec["seconds"]
        rows.append({
            "clip": clip.name, "size": f"{rec['size'][1]}x{rec['size'][0]}", "fps": rec["fps"],
            "maps": rec["frames"], "seconds": s, "maps_per_s": round(rec["frames"] / s["total"], 1),
            "decode_share": round(s["decode"] / s["total"], 3),
        })  # fmt: skip
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--videos", type=int, default=4, help="fixation videos of the score benchmark")
    ap.add_argument("--frames", type=int, default=150, help="frames per video (360x640)")
    ap.add_argument(
        "--threads",
        type=int,
        default=None,
        help="intra-op threads (default: runtime.cpu_threads, as the CLI)",
    )
    ap.add_argument(
        "--numerics",
        default=None,
        help="portable | native (default: runtime.cpu_numerics, as the CLI)",
    )
    ap.add_argument("--out", type=Path, default=REPO / "reports" / "bench" / "tools.json")
    args = ap.parse_args()
    from avsal.config import load_config
    from avsal.utils import numerics

    rt = load_config(REPO / "params.yaml").runtime  # the CLI's settings unless asked otherwise
    mode = args.numerics or rt.cpu_numerics
    threads = args.threads or rt.cpu_threads
    numerics.apply(mode, threads=threads)  # before torch runs, as `avsal score/predict` do
    import torch

    torch.set_num_threads(threads)
    args.threads = threads
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="avsal-bench-") as tmp:
        score = bench_score(Path(tmp) / "score", args.videos, args.frames)
        predict = bench_predict(Path(tmp) / "predict")
    record = {
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs",
        "threads": args.threads,
        "cpu_numerics": mode,
        "load_average_before": round(load, 2),
        "score": score,
        "predict": predict,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, indent=1) + "\n")
    print(f"score: {score['frames']} frames at 360x640, {score['frames_per_s_total']} frames/s with "
          f"reading ({score['frames_per_s_without_read']} without; reading PNGs "
          f"{score['read_share']:.0%} of the time)")  # fmt: skip
    for r in predict:
        print(f"predict {r['clip']} ({r['size']} @ {r['fps']:.2f} fps): {r['maps']} maps, "
              f"{r['maps_per_s']} maps/s, decoding {r['decode_share']:.0%}")  # fmt: skip
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
