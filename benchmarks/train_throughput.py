"""Training-step throughput of the STA net and the S / ST / SA classification nets.

Each net runs full training steps (forward, loss, backward, SGD momentum 0.9, lr 1e-3) on
synthetic inputs at the paper's size (356 x 356, VGG16), next to the raw backbone (the same
feature extractor alone, loss = mean of its features) at the same size and batch, in bf16
autocast and fp32; channels_last (channels_last_3d for the clip) on CUDA. Throughput counts key
frames per second: one sample is one key frame (with its clip and audio window where the net
uses them). The audio switch enters as a precomputed ``switch_prob`` input (the pipeline computes
it once with the frozen switch); ``--switch-net`` attaches a frozen switch net instead.

    python benchmarks/train_throughput.py --batch 32 --size 356 --iters 30 --warmup 10 \
        --device cuda --out reports/bench/train_throughput.json
    python benchmarks/train_throughput.py --device cpu --size 64 --batch 2 --iters 2 --backbone tiny
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from avsal.models import build_backbone, build_model, sta_loss
from avsal.models.audio import SPECTROGRAM_SHAPE

MODELS = ("raw", "s", "st", "sa", "sta")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--size", type=int, default=356, help="frame height = width (px)")
    p.add_argument("--iters", type=int, default=20, help="timed iterations")
    p.add_argument("--warmup", type=int, default=5, help="untimed iterations first")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--backbone", default="vgg16")
    p.add_argument("--frames", type=int, default=5, help="clip length T (odd) for ST / STA")
    p.add_argument("--audio-variant", choices=("paper", "official"), default="paper")
    p.add_argument("--num-classes", type=int, default=28)
    p.add_argument("--dtypes", default="bf16,fp32", help="comma list of bf16, fp32")
    p.add_argument("--models", default=",".join(MODELS), help=f"comma list of {MODELS}")
    p.add_argument("--temporal-width", type=int, default=32, help="T flow's first width")
    p.add_argument(
        "--temporal-input-stride", type=int, default=2, help="T flow's input pooling (1 = none)"
    )
    p.add_argument("--switch-net", action="store_true", help="attach a frozen audio-switch net")
    p.add_argument("--no-channels-last", action="store_true")
    p.add_argument("--out", default="reports/bench/train_throughput.json")
    return p.parse_args(argv)


def to_channels_last(model: nn.Module) -> nn.Module:
    """channels_last for 4D weights, channels_last_3d for 5D (Conv3d) ones."""
    for p in model.parameters():
        if p.dim() == 4:
            p.data = p.data.contiguous(memory_format=torch.channels_last)
        elif p.dim() == 5:
            p.data = p.data.contiguous(memory_format=torch.channels_last_3d)
    return model


def make_inputs(args: argparse.Namespace, device: torch.device, cl: bool) -> dict[str, Tensor]:
    g = torch.Generator(device="cpu").manual_seed(0)
    b, s, t = args.batch, args.size, args.frames
    f, ta = SPECTROGRAM_SHAPE[args.audio_variant]
    frame = torch.rand(b, 3, s, s, generator=g)
    clip = torch.rand(b, 3, t, s, s, generator=g)
    if cl:
        frame = frame.contiguous(memory_format=torch.channels_last)
        clip = clip.contiguous(memory_format=torch.channels_last_3d)
    return {
        "frame": frame.to(device),
        "clip": clip.to(device),
        "audio": torch.randn(b, 1, f, ta, generator=g).to(device),
        "switch_prob": torch.rand(b, generator=g).to(device),
        "labels": torch.randint(0, args.num_classes, (b,), generator=g).to(device),
        "target": torch.rand(b, 1, s, s, generator=g).to(device),
    }


def build(kind: str, args: argparse.Namespace) -> tuple[nn.Module, Callable[[dict], Tensor]]:
    """The net and its loss on a batch dict."""
    torch.manual_seed(0)
    if kind == "raw":
        net = build_backbone(args.backbone)
        return net, lambda x: net(x["frame"]).float().mean()
    switch = None
    if args.switch_net and kind in ("sa", "sta"):
        switch = build_model("audio_switch", backbone=args.backbone)
    if kind == "sta":
        net = build_model(
            "sta",
            backbone=args.backbone,
            audio_switch=switch,
            temporal_width=args.temporal_width,
            temporal_input_stride=args.temporal_input_stride,
        )

        def sta_step(x: dict) -> Tensor:
            inp = {k: x[k] for k in ("clip", "audio")}
            if switch is None:
                inp["switch_prob"] = x["switch_prob"]
            return sta_loss(net.forward_logits(**inp).float(), x["target"])

        return net, sta_step
    extra: dict[str, Any] = {"audio_switch": switch} if kind == "sa" else {}
    if kind == "st":
        extra["temporal_width"] = args.temporal_width
        extra["temporal_input_stride"] = args.temporal_input_stride
    net = build_model(kind, backbone=args.backbone, num_classes=args.num_classes, **extra)
    keys = {"s": ("frame",), "st": ("clip",), "sa": ("frame", "audio")}[kind]

    def cls_step(x: dict) -> Tensor:
        inp = {k: x[k] for k in keys}
        if kind == "sa" and switch is None:
            inp["switch_prob"] = x["switch_prob"]
        return F.cross_entropy(net(**inp).float(), x["labels"])

    return net, cls_step


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_steps(step: Callable[[], None], args: argparse.Namespace, device: torch.device) -> float:
    """Seconds for ``args.iters`` steps after ``args.warmup`` untimed ones (synchronised)."""
    for _ in range(args.warmup):
        step()
    sync(device)
    t0 = time.perf_counter()
    for _ in range(args.iters):
        step()
    sync(device)
    return time.perf_counter() - t0


def run_one(kind: str, dtype: str, args: argparse.Namespace, device: torch.device) -> dict:
    cl = device.type == "cuda" and not args.no_channels_last
    net, loss_fn = build(kind, args)
    net = net.to(device).train()
    if cl:
        to_channels_last(net)
    params = [p for p in net.parameters() if p.requires_grad]
    opt = torch.optim.SGD(params, lr=1e-3, momentum=0.9)
    x = make_inputs(args, device, cl)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)

    def step() -> None:
        ctx = (
            torch.autocast(device_type=device.type, dtype=torch.bfloat16)
            if dtype == "bf16"
            else contextlib.nullcontext()
        )
        with ctx:
            loss = loss_fn(x)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    elapsed = time_steps(step, args, device)
    res = {
        "model": kind if kind != "raw" else f"raw {args.backbone}",
        "kind": kind,
        "dtype": dtype,
        "frames_per_s": args.batch * args.iters / elapsed,
        "ms_per_iter": 1000 * elapsed / args.iters,
        "params_m": sum(p.numel() for p in params) / 1e6,
    }
    if device.type == "cuda":
        res["peak_mem_gib"] = torch.cuda.max_memory_allocated(device) / 2**30
    return res


def markdown(results: list[dict]) -> str:
    raw = {r["dtype"]: r["frames_per_s"] for r in results if r["kind"] == "raw"}
    lines = [
        "| model | dtype | frames/s | ms/iter | x raw | params (M) | peak GiB |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        ratio = f"{r['frames_per_s'] / raw[r['dtype']]:.2f}" if r["dtype"] in raw else "-"
        mem = f"{r['peak_mem_gib']:.1f}" if "peak_mem_gib" in r else "-"
        lines.append(
            f"| {r['model']} | {r['dtype']} | {r['frames_per_s']:.1f} | {r['ms_per_iter']:.1f} "
            f"| {ratio} | {r['params_m']:.1f} | {mem} |"
        )
    for dtype, base in raw.items():
        sta = [r for r in results if r["kind"] == "sta" and r["dtype"] == dtype]
        if sta:
            lines.append(f"\nSTA / raw backbone ({dtype}): {sta[0]['frames_per_s'] / base:.2f}")
    return "\n".join(lines)


def write_json(path: Path, payload: dict[str, Any]) -> None:
    """Atomic write: a temp file in the same folder, then rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(payload, f, indent=2)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda but CUDA is not available")
    if args.frames % 2 != 1:
        raise SystemExit(f"--frames must be odd (key frame in the middle), got {args.frames}")
    kinds = [k.strip() for k in args.models.split(",") if k.strip()]
    dtypes = [d.strip() for d in args.dtypes.split(",") if d.strip()]
    bad = [k for k in kinds if k not in MODELS] + [d for d in dtypes if d not in ("bf16", "fp32")]
    if bad:
        raise SystemExit(f"unknown models/dtypes: {bad}")
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = False  # fp32 means fp32
        torch.backends.cudnn.allow_tf32 = False
    results = []
    for dtype in dtypes:
        for kind in kinds:
            r = run_one(kind, dtype, args, device)
            if device.type == "cuda":
                torch.cuda.empty_cache()
            print(f"{r['model']:>12} {dtype}: {r['frames_per_s']:.1f} frames/s", flush=True)
            results.append(r)
    table = markdown(results)
    print()
    print(table)
    payload = {
        "args": vars(args),
        "device": torch.cuda.get_device_name(device)
        if device.type == "cuda"
        else platform.processor() or "cpu",
        "torch": torch.__version__,
        "channels_last": device.type == "cuda" and not args.no_channels_last,
        "results": results,
        "table_markdown": table,
    }
    write_json(Path(args.out), payload)
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
