"""Batched metric engine: scores a whole video at once in torch (CPU or CUDA), float64.

It computes exactly what the per-frame functions of :mod:`avsal.metrics.frame` compute, with the
same edge cases, and consumes the same random streams (:func:`avsal.metrics.streams.metric_rng`
per frame and metric, drawn with numpy on the host, then moved to the device), so that
``score_video(...)[m][t]`` equals ``frame.<m>(preds[t], ...)`` called with
``rng=metric_rng(seed, video, frames[t], m)``: the AUCs to the last bit or two (integer counts,
only the trapezoid sums differ in order), NSS/CC/SIM/KLD to float64 rounding (about 1e-14 on
saliency maps; the tests hold everything to 1e-9, the issue asked for 1e-6).

How it is fast (and why it stays exact):

- frames go through in chunks as ``[t, P]`` tensors, read in their own dtype, in two passes
  (:mod:`avsal.metrics.kernels`): pass 1 takes per-frame min, max and sums, pass 2 everything
  that needs them (AUC-Judd bins, SIM and KLD sums). On CPU, for big videos, the passes are
  compiled with ``torch.compile`` into one loop each; eager torch runs the same code elsewhere;
- AUC-Judd needs, per fixated value ``a``, the number of pixels ``>= a`` (MIT loops over the
  thresholds). A per-frame histogram of a monotone bin function settles every pixel whose bin
  holds no threshold; only the few pixels that may share a bin with one are compared one by one,
  and only they (with the fixated ones) need their jitter, drawn block by block from the frame's
  stream instead of as a full map (:class:`avsal.metrics.auc.JuddBins`). Integer counts: exact;
- s-AUC only touches the sampled values (``[t, splits, k]``), against one threshold grid
  ``i * step``; grid points above a split's maximum add (0, 0) points of zero area, so the area
  is the one of ``fliplr(0:step:max)``;
- NSS, CC and SIM come from row sums and dot products; where those would lose accuracy (a map's
  magnitude far above its spread) the rows are redone with centred maps;
- ``workers`` chunks are scored at once in threads, so one chunk's host-side work (draws with
  numpy, fixation indices) overlaps another's tensor maths.

Where the parts live: this module schedules a video's chunks over the workers
(:class:`_VideoJob` holds what every chunk of one video shares);
:mod:`~avsal.metrics.inputs` checks and converts what callers pass;
:mod:`~avsal.metrics.draws` does the host-side work (fixation indices, jitter and s-AUC draws);
:mod:`~avsal.metrics.chunk` holds a chunk on the device with its pass-1 statistics;
:mod:`~avsal.metrics.auc` and :mod:`~avsal.metrics.moments` score the metrics on it.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import torch

from avsal.metric_names import MAP_METRICS, METRICS, PAPER_METRICS
from avsal.metrics.auc import JuddBins, auc_shuffled_chunk
from avsal.metrics.chunk import Chunk, GroundTruth
from avsal.metrics.draws import HostWork, NegativeCandidates, Prepared
from avsal.metrics.inputs import Frames, block, fixation_stack
from avsal.metrics.kernels import Kernels
from avsal.metrics.moments import Moments, SimKld, cc_chunk, nss_chunk

__all__ = ["MAP_METRICS", "METRICS", "PAPER_METRICS", "Frames", "score_video"]

#: Auto-fuse on CPU from this many pixels per video (about 73 frames at 640x360).
_FUSE_MIN_PIXELS = 1 << 24
#: Default CPU chunk, in pixels: large enough to amortise the per-chunk Python work.
_CPU_CHUNK_PIXELS = 1 << 22


def score_video(
    preds: Frames,
    fix: np.ndarray | torch.Tensor,
    gt_maps: np.ndarray | torch.Tensor | None = None,
    *,
    metrics: Sequence[str] = PAPER_METRICS,
    other_fix: np.ndarray | torch.Tensor | None = None,
    seed: int = 0,
    video: str = "",
    frames: Sequence[int] | None = None,
    jitter: bool = True,
    n_splits: int = 100,
    step: float = 0.1,
    device: str | torch.device | None = None,
    chunk_size: int | None = None,
    workers: int | None = None,
    transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
    fused: bool | None = None,
) -> dict[str, np.ndarray]:
    """Score every frame of one video; returns ``{metric: float64 array [T]}`` (NaN = unscorable).

    Args:
        preds: predictions ``[T, h, w]`` (array or tensor) or a sequence of 2-D maps. Without
            ``transform`` they must have the ground-truth size ``H x W``.
        fix: binary fixation maps ``[T, H, W]`` (any positive value is a fixation), or the same
            as :class:`~avsal.metrics.inputs.FixationPoints` (a long video without its dense
            stack in memory; the scores are the same).
        gt_maps: continuous ground-truth maps ``[T, H, W]``; needed for cc, sim, kld. Like
            ``preds``, any sequence with a 3-D ``shape`` and ``[i]`` works, read chunk by chunk.
        metrics: any of :data:`METRICS`.
        other_fix: s-AUC negative candidates ``[T, H, W]``. None (default): the STAViS rule, the
            union of the fixations of all frames of this video minus the frame's own fixated
            pixels, i.e. the fixations of the *other* frames.
        seed, video, frames: key the random streams (:func:`~avsal.metrics.streams.metric_rng`);
            ``frames`` (default ``0..T-1``) also labels error messages.
        jitter, n_splits, step: as in :func:`avsal.metrics.frame.auc_judd` / ``auc_shuffled``.
        device: torch device (default CPU).
        chunk_size: frames per batch (default on CPU: about 2**22 pixels' worth, e.g. 18 frames
            at 640x360; 64 on other devices); memory is about ``4 * chunk_size * H * W * 8``
            bytes of temporaries per worker.
        workers: chunks scored at the same time, in threads (torch ops and numpy's generators
            release the GIL; compiled kernels and Python glue do not, so more than two rarely
            pay). Default 2 (1 where torch has one CPU thread). On CPU the call shares torch's
            intra-op threads out among the workers (2 cores: one each, 20% faster than every op
            fanning out over all of them), restored after. The scores do not depend on it.
        transform: applied to each float64 chunk ``[t, h, w]`` on the device before scoring
            (the protocol's resize and blur); must return ``[t, H, W]``.
        fused: run the per-pixel passes compiled (:mod:`avsal.metrics.kernels`). None (default):
            on CPU for videos of at least ``2**24`` pixels, where the one-off compile (seconds,
            once per process) pays for itself. The scores do not depend on it.
    """
    unknown = [m for m in metrics if m not in METRICS]
    if unknown:
        raise ValueError(f"unknown metrics {unknown}; known: {list(METRICS)}")
    dev = torch.device(device) if device is not None else torch.device("cpu")
    if n_splits < 1 or not step > 0 or (chunk_size is not None and chunk_size < 1):
        raise ValueError(
            f"need n_splits >= 1, step > 0, chunk_size >= 1; got {n_splits}, {step}, {chunk_size}"
        )
    n_frames = len(preds)
    labels = list(range(n_frames)) if frames is None else [int(f) for f in frames]
    if len(labels) != n_frames:
        raise ValueError(f"video '{video}': {len(labels)} frame labels for {n_frames} predictions")
    fix_np = fixation_stack(fix, "fixation maps", video, labels)  # [T, H, W] as points
    if fix_np.shape[0] != n_frames:
        raise ValueError(
            f"video '{video}': {n_frames} predictions but {fix_np.shape[0]} fixation maps"
        )
    size = fix_np.shape[1:]
    if chunk_size is None:
        n_pix = size[0] * size[1]
        chunk_size = 64 if dev.type != "cpu" else max(1, min(64, _CPU_CHUNK_PIXELS // n_pix))
    wanted = [m for m in METRICS if m in metrics]
    if MAP_METRICS.intersection(wanted):
        if gt_maps is None:
            raise ValueError(
                f"video '{video}': metrics {sorted(MAP_METRICS & set(wanted))} need gt_maps"
            )
        if tuple(gt_maps.shape) != fix_np.shape:
            raise ValueError(
                f"video '{video}': ground-truth maps have shape {tuple(gt_maps.shape)} but "
                f"fixation maps have shape {fix_np.shape}"
            )
    negatives = None
    if "auc_shuffled" in wanted:
        negatives = NegativeCandidates(fix_np, other_fix, video, labels)

    out = {m: np.full(n_frames, math.nan) for m in wanted}
    if fused is None:
        fused = dev.type == "cpu" and n_frames * size[0] * size[1] >= _FUSE_MIN_PIXELS
    kernels = Kernels(fused)
    host = HostWork(
        fix_np, negatives, labels, seed, video, n_splits, jitter and "auc_judd" in wanted
    )
    job = _VideoJob(
        preds=preds, gt_maps=gt_maps, video=video, labels=labels, size=size, wanted=wanted,
        dev=dev, kernels=kernels, host=host, transform=transform, n_splits=n_splits, step=step,
        out=out,
    )  # fmt: skip

    def score(lo: int, hi: int, prepared: Prepared) -> None:
        _score_chunk(job, lo, hi, prepared)

    ranges = _chunks(preds, chunk_size)
    if workers is None:
        workers = min(2, torch.get_num_threads()) if dev.type == "cpu" else 2
    # On CPU the workers share torch's threads, for every video alike (even one of one chunk):
    # compiled kernels are built for a thread count, and a second count would compile again.
    with _threads_per_worker(dev, workers):
        if workers <= 1 or len(ranges) == 1:
            for lo, hi in ranges:
                score(lo, hi, host.prepare(lo, hi))
            return out
        # `workers` threads score whole chunks: one chunk's host work (jitter and s-AUC draws
        # with numpy) and tensor ops overlap another's. Compiling is not thread-safe, so the
        # first chunk is scored here, compiling what it needs, and the threads never compile:
        # a chunk the compiled code does not cover runs eagerly.
        score(*ranges[0], host.prepare(*ranges[0]))

        def run(lo: int, hi: int) -> None:
            score(lo, hi, host.prepare(lo, hi))

        with kernels.no_recompiles(), ThreadPoolExecutor(max_workers=workers) as pool:
            futures = [pool.submit(run, lo, hi) for lo, hi in ranges[1:]]
            try:
                for future in futures:  # in frame order: the earliest bad frame is named
                    future.result()
            except BaseException:
                pool.shutdown(cancel_futures=True)
                raise
    return out


@contextlib.contextmanager
def _threads_per_worker(dev: torch.device, workers: int) -> Iterator[None]:
    """On CPU, torch's intra-op threads shared out among the worker threads while they run.

    Measured on 2 cores (``benchmarks/metrics_bench.py``): one thread per worker is 20% faster
    than letting every op and compiled kernel fan out over the cores that the other worker is
    using. Process-wide while it lasts (torch has no per-thread setting); restored on exit.
    """
    if dev.type != "cpu":
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(max(1, before // workers))
    try:
        yield
    finally:
        torch.set_num_threads(before)


@dataclass(frozen=True)
class _VideoJob:
    """What every chunk of one video shares: its inputs, settings and the output arrays.

    Built once per :func:`score_video` call and read by the worker threads; only ``out`` is
    written, each chunk into its own frame range.
    """

    preds: Frames  # [T, h, w] or T maps [h, w]
    gt_maps: np.ndarray | torch.Tensor | None  # [T, H, W]
    video: str
    labels: list[int]  # frame labels, for the streams and the error messages
    size: tuple[int, int]  # ground-truth (H, W)
    wanted: list[str]  # metrics to score, in METRICS order
    dev: torch.device
    kernels: Kernels
    host: HostWork
    transform: Callable[[torch.Tensor], torch.Tensor] | None
    n_splits: int
    step: float
    out: dict[str, np.ndarray]  # {metric: [T]}, filled chunk by chunk


def _chunks(preds: Frames, chunk_size: int) -> list[tuple[int, int]]:
    """Frame ranges of at most ``chunk_size``; a sequence is also split where the shape changes
    (one with a 3-D ``shape``, a lazy stack, has one shape and is not read here)."""
    n = len(preds)
    if isinstance(preds, (np.ndarray, torch.Tensor)) or len(getattr(preds, "shape", ())) == 3:
        return [(lo, min(lo + chunk_size, n)) for lo in range(0, n, chunk_size)]
    ranges, lo = [], 0
    for i in range(1, n + 1):
        if i == n or i - lo == chunk_size or tuple(preds[i].shape) != tuple(preds[lo].shape):
            ranges.append((lo, i))
            lo = i
    return ranges


def _score_chunk(job: _VideoJob, lo: int, hi: int, prepared: Prepared) -> None:
    """Score frames ``lo:hi`` of ``job``'s video into ``job.out`` (two passes over the pixels)."""
    wanted, out, kernels, size = job.wanted, job.out, job.kernels, job.size
    t, n_pix = hi - lo, size[0] * size[1]
    where = [f"frame {job.labels[i]} of video '{job.video}'" for i in range(lo, hi)]
    x = block(job.preds, lo, hi, job.dev, where, "prediction")  # [t, h, w], any real dtype
    if job.transform is not None:
        x = job.transform(x.to(torch.float64))
    if tuple(x.shape[1:]) != size:
        raise ValueError(
            f"{where[0]}: prediction has shape {tuple(x.shape[1:])} but the fixation map has "
            f"shape {size}; pass a transform that resizes to the ground-truth size"
        )
    x = x.reshape(t, n_pix)  # [t, P]; read in float64 by the kernels, never converted whole
    g = None
    if MAP_METRICS.intersection(wanted):
        g = block(job.gt_maps, lo, hi, job.dev, where, "ground-truth map").reshape(t, n_pix)
    if not kernels.fused:  # eager: convert once here, not in every pass
        x = x.double()
        g = None if g is None else g.double()
    stats = kernels.map_stats(x, g)  # pass 1
    chunk = Chunk(x, stats[:4], prepared, job.dev, where)
    gt = None if g is None else GroundTruth(g, stats[4:], where)
    moments = Moments(chunk, gt) if {"nss", "cc", "sim", "kld"}.intersection(wanted) else None
    judd = JuddBins(chunk, job.host, lo) if "auc_judd" in wanted else None
    sums = (
        SimKld(chunk, gt, moments, wanted, where) if {"sim", "kld"}.intersection(wanted) else None
    )
    bins, l1, kl = kernels.map_pass(
        x, g, None if judd is None else judd.args, None if sums is None else sums.args,
        job.host.jitter, "sim" in wanted, "kld" in wanted,
    )  # pass 2  # fmt: skip
    if judd is not None:
        out["auc_judd"][lo:hi] = judd.score(bins)
    if "auc_shuffled" in wanted:
        out["auc_shuffled"][lo:hi] = auc_shuffled_chunk(chunk, job.n_splits, job.step)
    if "nss" in wanted:
        out["nss"][lo:hi] = nss_chunk(chunk, moments)
    if "cc" in wanted:
        out["cc"][lo:hi] = cc_chunk(chunk, gt, moments)
    if "sim" in wanted:
        out["sim"][lo:hi] = sums.sim(l1)
    if "kld" in wanted:
        out["kld"][lo:hi] = sums.kld(kl)
