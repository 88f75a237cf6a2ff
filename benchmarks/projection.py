"""What the paper's setting costs on the full data: disk, RAM, GPU memory and hours per stage.

Counts come from the real metadata copied into the project (references/samples: AVE's
Annotations.txt and split files, the STAViS fold lists of the six sets); per-frame costs from
the paper profile (params.yaml + profiles/paper.yaml: 360 px cache at 4 fps, 256 px coarse,
356 px fine/STA inputs, 20 epochs, float16 maps).  Rates:
  * GPU: the raw VGG16 anchors measured on one H100 (torch 2.11, bf16 + channels_last; issue
    #15), at the 0.8x efficiency each stage must reach (STA: 0.75x, measured earlier); they are
    a PLAN, until benchmarks/ times the stages on a GPU in the same run;
  * CPU: the seconds per frame pass each stage took in `make paper-smoke` (this machine), if
    reports/bench/paper_smoke_cpu.json exists: why the full setting is GPU work.
Every stage's work is counted in frame passes (one backbone pass of one frame at its input
size; the light T flow and the audio branch ride along, DESIGN sec. 4).

    python benchmarks/projection.py [--gpus 8] [--out reports/bench/projection.json]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "references" / "samples"

#: raw VGG16 frames/s on one H100 (torch 2.11, random weights, bf16 + channels_last; issue #15)
GPU_RAW = {"train_256": 2521.0, "train_356": 1288.0, "infer_356": 3045.0}
GPU_RAW["infer_256"] = GPU_RAW["infer_356"] * (356 / 256) ** 2  # scaled by pixels (not measured)
EFFICIENCY = {"cls": 0.8, "sta": 0.75, "infer": 0.8}
DDP_EFFICIENCY = 0.9  # assumed for torchrun on 8 GPUs of one box (not measured here)
FPS, CACHE, EPOCHS, CLIP_S = 4.0, (360, 360), 20, 10
NETS_COARSE, NETS_FINE = 4, 3  # S, ST, SA (+ the coarse STA classifier of Tables 1-3)
STA_VARIANTS = 2  # STA and the no-switch ablation
MAP_CHANNELS = 11  # method_maps: 4 coarse CAMs, 4 fusions, 3 fine CAMs
#: scoring, map-frames/s end to end on this 2-core VM (benchmarks/tools_bench.py, 360x640 GT)
SCORE_FPS_2CORES = 61.9


def counts() -> dict[str, int]:
    """Rows and frames of the full data, from the real metadata in references/samples."""

    def rows(name: str) -> list[list[str]]:
        text = (SAMPLES / "ave_meta" / name).read_text().splitlines()[1:]
        return [r.split("&") for r in text if r.strip()]

    ann = rows("Annotations.txt")
    videos = {r[1] for r in ann}
    event_s = {
        s: sum(int(r[4]) - int(r[3]) for r in rows(f"{s}Set.txt")) for s in ("train", "val", "test")
    }
    fix: dict[tuple[str, str], int] = {}
    for f in sorted((SAMPLES / "fold_lists").glob("*_fps.txt")):
        for line in f.read_text().splitlines():
            if line.strip():
                video, n, _ = line.split()
                fix[(f.name.split("_list")[0], video)] = int(n)
    return {
        "ave_videos": len(videos),
        "ave_frames": int(len(videos) * CLIP_S * FPS),
        "tag_rows": int(sum(int(r[4]) - int(r[3]) for r in ann) * FPS),
        "train_rows": int(event_s["train"] * FPS),
        "val_rows": int(event_s["val"] * FPS),
        "fixation_videos": len(fix),
        "fixation_frames": sum(fix.values()),
        "largest_fixation_video": max(fix.values()),
        "reporting_frames": sum(  # evaluate.fold 1's test lists (DIEM: its one test list)
            int(line.split()[1])
            for f in sorted((SAMPLES / "fold_lists").glob("*_list_test*_fps.txt"))
            if f.name.endswith("_test_1_fps.txt") or f.name.startswith("DIEM_")
            for line in f.read_text().splitlines()
            if line.strip()
        ),
    }


def scored_methods() -> int:
    """Methods the evaluate and ablations stages score (from this checkout's reports)."""
    n = 0
    for name in ("evaluate.json", "ablations.json"):
        path = REPO / "reports" / name
        if path.is_file():
            n += len(json.loads(path.read_text())["results"])
    return n


def work(c: dict[str, int]) -> dict[str, dict[str, float]]:
    """Frame passes per stage, by kind (train/infer) and input size."""

    def cls(n: int, size: int) -> dict[str, float]:  # n nets trained, validated every epoch
        return {
            f"train_{size}": n * c["train_rows"] * EPOCHS,
            f"infer_{size}": n * c["val_rows"] * EPOCHS,
        }

    return {
        "train_cls@coarse-* (4 nets)": cls(NETS_COARSE, 256),
        "cams@coarse": {"infer_256": 3 * c["tag_rows"]},
        "train_cls@fine-* (3 nets)": cls(NETS_FINE, 356),
        "cams@fine": {"infer_356": 3 * c["tag_rows"]},
        "train_sta@* (2 variants)": {k: STA_VARIANTS * v for k, v in cls(1, 356).items()},
        "predict@* (2 variants)": {"infer_356": STA_VARIANTS * c["fixation_frames"]},
        "method_maps@*": {
            "infer_256": 4 * c["fixation_frames"],
            "infer_356": 3 * c["fixation_frames"],
        },
    }


def gpu_hours(passes: dict[str, float], stage: str, gpus: int) -> float:
    eff = EFFICIENCY["sta"] if stage.startswith("train_sta") else EFFICIENCY["cls"]
    hours = 0.0
    for kind, n in passes.items():
        e = eff if kind.startswith("train") else EFFICIENCY["infer"]
        hours += n / (GPU_RAW[kind] * e) / 3600
    if gpus > 1:  # training: DDP over the GPUs; inference: the per-set stages side by side
        hours /= gpus * DDP_EFFICIENCY if stage.startswith("train") else min(gpus, 6)
    return hours


def disk_gb(c: dict[str, int]) -> dict[str, float]:
    px = CACHE[0] * CACHE[1]
    mel = 64 * 101 * 4  # the paper's 1 s log-mel per frame, float32
    return {
        "prepared AVE (uint8 frames + log-mel)": c["ave_frames"] * (3 * px + mel) / 1e9,
        "prepared fixation sets": c["fixation_frames"] * (3 * px + mel) / 1e9,
        "cams coarse + fine (3 nets, float16)": 2 * c["tag_rows"] * 3 * px * 2 / 1e9,
        "pseudo-GT coarse + fine (float16)": 2 * c["tag_rows"] * px * 2 / 1e9,
        "method maps (11 per frame, float16)": c["fixation_frames"] * MAP_CHANNELS * px * 2 / 1e9,
        "predictions (2 variants, float16)": STA_VARIANTS * c["fixation_frames"] * px * 2 / 1e9,
    }


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--gpus", type=int, default=8)
    ap.add_argument("--smoke", default="reports/bench/paper_smoke_cpu.json")
    ap.add_argument("--out", default="reports/bench/projection.json")
    args = ap.parse_args()
    c = counts()
    stages = work(c)
    rows = []
    for stage, passes in stages.items():
        rows.append(
            {
                "stage": stage,
                "frame_passes_M": round(sum(passes.values()) / 1e6, 2),
                "gpu_hours_1": round(gpu_hours(passes, stage, 1), 2),
                f"gpu_hours_{args.gpus}": round(gpu_hours(passes, stage, args.gpus), 2),
            }
        )
    methods = scored_methods()
    score_hours = c["reporting_frames"] * methods / SCORE_FPS_2CORES / 3600
    disk = {k: round(v, 1) for k, v in disk_gb(c).items()}
    out = {
        "counts": c,
        "stages": rows,
        "disk_gb": disk,
        "gpu_raw_fps": GPU_RAW,
        "efficiency": EFFICIENCY,
        "ddp_efficiency": DDP_EFFICIENCY,
    }
    path = REPO / args.out
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=1) + "\n")
    print(
        f"| stage | frame passes (M) | GPU h, 1 GPU | GPU h, {args.gpus} GPUs |\n|---|---:|---:|---:|"
    )
    for r in rows:
        print(
            f"| `{r['stage']}` | {r['frame_passes_M']} | {r['gpu_hours_1']} | {r[f'gpu_hours_{args.gpus}']} |"
        )
    total1 = sum(r["gpu_hours_1"] for r in rows)
    totaln = sum(r[f"gpu_hours_{args.gpus}"] for r in rows)
    print(f"| total | | {total1:.1f} | {totaln:.1f} |")
    print(
        f"\nevaluate + ablations (CPU): {methods} methods x {c['reporting_frames']} reporting "
        f"frames at {SCORE_FPS_2CORES} map-frames/s = {score_hours:.1f} h on 2 cores"
    )
    print("\n| artifact | GB |\n|---|---:|")
    for k, v in disk.items():
        print(f"| {k} | {v} |")
    print(f"| total | {sum(disk.values()):.0f} |")
    print(json.dumps(c, indent=1))


if __name__ == "__main__":
    main()
