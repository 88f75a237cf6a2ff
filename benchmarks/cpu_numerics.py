"""What CPU settings do to the bytes and the speed of training: one STA net, a few SGD steps.

Each setting runs in its own process (the kernel ISA is fixed at torch's first op), trains the
embedded profile's STA net (backbone, 3D-conv flow, audio CNN, decoder; Adam) for ``--steps``
steps on seeded random inputs, and prints the sha256 of the weights and the time per step:

    python benchmarks/cpu_numerics.py [--steps 20] [--json reports/bench/cpu_numerics.json]

Rows with the same ``sha`` are byte-identical. ``portable`` is what every stage runs
(``avsal.utils.numerics``); the ``native`` rows are torch's defaults, and the ``isa=`` rows
emulate other CPUs on this one (ATen's AVX512/AVX2/DEFAULT kernels; oneDNN and MKL capped at AVX2).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

#: name -> (env, mode, threads); mode "portable" calls numerics.apply, "native" leaves torch alone
SETTINGS: dict[str, tuple[dict[str, str], str, int]] = {
    "native, 1 thread": ({}, "native", 1),
    "native, 2 threads": ({}, "native", 2),
    "native, isa=DEFAULT": ({"ATEN_CPU_CAPABILITY": "default"}, "native", 2),
    "native, isa=AVX2": (
        {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2"},
        "native",
        2,
    ),
    "portable, 1 thread": ({}, "portable", 1),
    "portable, 2 threads": ({}, "portable", 2),
    "portable, 1 thread, AVX2-only host": (
        {"ONEDNN_MAX_CPU_ISA": "AVX2", "MKL_ENABLE_INSTRUCTIONS": "AVX2"},
        "portable",
        1,
    ),
    "portable, 1 thread, SSE4.2-only MKL": ({"MKL_ENABLE_INSTRUCTIONS": "SSE4_2"}, "portable", 1),
    # portable numerics with torch's Adam (before 2026-12-03): its sqrt is MKL's rsqrtps kernel
    "portable, 1 thread, torch's Adam": ({"AVSAL_TORCH_ADAM": "1"}, "portable", 1),
    # what portable mode was before: MKL's AVX2 branch, which exists on Intel CPUs only
    "Intel-only MKL branch, 1 thread": ({"AVSAL_MKL_CBWR": "AVX2,STRICT"}, "portable", 1),
}


def _child(mode: str, threads: int, steps: int) -> dict:
    import hashlib

    import torch

    from avsal.config import load_config
    from avsal.utils import numerics

    if mode == "portable":
        if "AVSAL_MKL_CBWR" in os.environ:  # the benchmark's own override, to compare branches
            numerics.PORTABLE_ENV["MKL_CBWR"] = os.environ["AVSAL_MKL_CBWR"]
        numerics.apply("portable", threads=threads)
    else:
        torch.set_num_threads(threads)
    from avsal.models.sta import sta_loss
    from avsal.stages.common import build_net

    cfg = load_config(REPO / "params.yaml")
    net = build_net(
        cfg, "sta", num_classes=None, switch=build_net(cfg, "audio_switch", num_classes=1)
    )
    if mode == "portable" and not os.environ.get("AVSAL_TORCH_ADAM"):  # what the stages use
        from avsal.training.exact_adam import ExactSqrtAdam

        opt = ExactSqrtAdam(net.parameters(), lr=3e-3, weight_decay=1e-4)
    else:
        opt = torch.optim.Adam(net.parameters(), lr=3e-3, weight_decay=1e-4)
    g = torch.Generator().manual_seed(0)
    h, w = cfg.sta.input_size
    t0 = time.perf_counter()
    for _ in range(steps):
        b = cfg.sta.train.batch_size
        clip = torch.rand(b, 3, cfg.model.clip_frames, h, w, generator=g)
        audio = torch.randn(b, 1, 64, 101, generator=g)
        target = torch.rand(b, 1, h, w, generator=g)
        loss = sta_loss(net.forward_logits(clip=clip, audio=audio), target)
        opt.zero_grad()
        loss.backward()
        opt.step()
    seconds = time.perf_counter() - t0
    digest = hashlib.sha256()
    for k, v in net.state_dict().items():
        digest.update(k.encode() + v.detach().contiguous().numpy().tobytes())
    return {
        "sha": digest.hexdigest()[:16],
        "ms_per_step": round(1000 * seconds / steps, 1),
        **numerics.describe(),
    }


def cpu_identity() -> dict[str, str]:
    """Vendor, family, model, stepping, microcode and SIMD flags of this CPU (/proc/cpuinfo).

    Two AMD EPYC hosts gave other portable bytes from each other (README "The gap"), so a
    result says which CPU made it, not only the vendor.
    """
    info: dict[str, str] = {}
    try:
        first = Path("/proc/cpuinfo").read_text().split("\n\n")[0]
    except OSError:
        return {"machine": platform.machine()}
    for line in first.splitlines():
        key, _, value = line.partition(":")
        info[key.strip()] = value.strip()
    keys = ("vendor_id", "cpu family", "model", "model name", "stepping", "microcode")
    out = {k: info.get(k, "") for k in keys}
    flags = set(info.get("flags", "").split())
    out["simd"] = " ".join(
        f for f in ("sse4_2", "avx2", "fma", "avx512f", "avx512_bf16") if f in flags
    )
    return out


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--steps", type=int, default=20, help="training steps per setting (default 20)")
    p.add_argument("--json", default=None, help="also write the rows to this JSON file")
    p.add_argument("--child", nargs=2, metavar=("MODE", "THREADS"), help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        print(json.dumps(_child(args.child[0], int(args.child[1]), args.steps)))
        return
    rows = []
    base = {
        k: v
        for k, v in os.environ.items()
        if k
        not in (
            "ATEN_CPU_CAPABILITY",
            "MKL_CBWR",
            "ONEDNN_MAX_CPU_ISA",
            "MKL_ENABLE_INSTRUCTIONS",
            "OMP_NUM_THREADS",
        )
    }
    for name, (env, mode, threads) in SETTINGS.items():
        out = subprocess.run(
            [sys.executable, __file__, "--steps", str(args.steps), "--child", mode, str(threads)],
            env={**base, **env, "PYTHONPATH": str(REPO / "src")},
            capture_output=True,
            text=True,
            check=True,
        )
        row = {"setting": name, **json.loads(out.stdout.strip().splitlines()[-1])}
        rows.append(row)
        print(
            f"{name:36s} sha={row['sha']}  {row['ms_per_step']:8.1f} ms/step  kernels={row['cpu_capability']} mkldnn={row['mkldnn']}"
        )
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(
            json.dumps(
                {
                    "machine": platform.processor() or platform.machine(),
                    "cpu": cpu_identity(),
                    "steps": args.steps,
                    "rows": rows,
                },
                indent=1,
            )
            + "\n"
        )


if __name__ == "__main__":
    main()
