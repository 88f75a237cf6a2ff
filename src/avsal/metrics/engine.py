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
  stream instead of as a full map (:class:`_JuddBins`). Integer counts: exact;
- s-AUC only touches the sampled values (``[t, splits, k]``), against one threshold grid
  ``i * step``; grid points above a split's maximum add (0, 0) points of zero area, so the area
  is the one of ``fliplr(0:step:max)``;
- NSS, CC and SIM come from row sums and dot products; where those would lose accuracy (a map's
  magnitude far above its spread) the rows are redone with centred maps;
- ``workers`` chunks are scored at once in threads, so one chunk's host-side work (draws with
  numpy, fixation indices) overlaps another's tensor maths.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import torch

from avsal.metrics.frame import _COLON_TOL, KLD_EPS
from avsal.metrics.kernels import JITTER_MAX, JUDD_BINS, Kernels, judd_bin
from avsal.metrics.streams import JITTER_DIVISOR, draw_at, metric_rng, sample_subsets

#: The metrics the engine computes, in the paper's table order, plus KLD as an extra.
METRICS = ("auc_judd", "sim", "auc_shuffled", "cc", "nss", "kld")
#: The five metrics of the paper (Table 4).
PAPER_METRICS = ("auc_judd", "sim", "auc_shuffled", "cc", "nss")
#: Metrics scored against the continuous ground-truth maps (the others use fixation points).
MAP_METRICS = frozenset({"cc", "sim", "kld"})

#: Auto-fuse on CPU from this many pixels per video (about 73 frames at 640x360).
_FUSE_MIN_PIXELS = 1 << 24
#: Default CPU chunk, in pixels: large enough to amortise the per-chunk Python work.
_CPU_CHUNK_PIXELS = 1 << 22

Frames = np.ndarray | torch.Tensor | Sequence[np.ndarray | torch.Tensor]


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
        fix: binary fixation maps ``[T, H, W]`` (any positive value is a fixation).
        gt_maps: continuous ground-truth maps ``[T, H, W]``; needed for cc, sim, kld.
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
    fix_np = _fixation_stack(fix, "fixation maps", video, labels)  # [T, H, W] bool
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
        negatives = _NegativeCandidates(fix_np, other_fix, video, labels)

    out = {m: np.full(n_frames, math.nan) for m in wanted}
    if fused is None:
        fused = dev.type == "cpu" and n_frames * size[0] * size[1] >= _FUSE_MIN_PIXELS
    kernels = Kernels(fused)
    host = _HostWork(
        fix_np, negatives, labels, seed, video, n_splits, jitter and "auc_judd" in wanted
    )

    def score(lo: int, hi: int, prepared: _Prepared) -> None:
        _score_chunk(
            preds, gt_maps, lo, hi, prepared, host, wanted, out, kernels, dev, labels, video,
            size, transform, n_splits, step,
        )  # fmt: skip

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


def _score_chunk(
    preds: Frames,
    gt_maps: np.ndarray | torch.Tensor | None,
    lo: int,
    hi: int,
    prepared: _Prepared,
    host: _HostWork,
    wanted: list[str],
    out: dict[str, np.ndarray],
    kernels: Kernels,
    dev: torch.device,
    labels: list[int],
    video: str,
    size: tuple[int, int],
    transform: Callable[[torch.Tensor], torch.Tensor] | None,
    n_splits: int,
    step: float,
) -> None:
    t, n_pix = hi - lo, size[0] * size[1]
    where = [f"frame {labels[i]} of video '{video}'" for i in range(lo, hi)]
    x = _block(preds, lo, hi, dev, where, "prediction")  # [t, h, w], any real dtype
    if transform is not None:
        x = transform(x.to(torch.float64))
    if tuple(x.shape[1:]) != size:
        raise ValueError(
            f"{where[0]}: prediction has shape {tuple(x.shape[1:])} but the fixation map has "
            f"shape {size}; pass a transform that resizes to the ground-truth size"
        )
    x = x.reshape(t, n_pix)  # [t, P]; read in float64 by the kernels, never converted whole
    g = None
    if MAP_METRICS.intersection(wanted):
        g = _block(gt_maps, lo, hi, dev, where, "ground-truth map").reshape(t, n_pix)
    if not kernels.fused:  # eager: convert once here, not in every pass
        x = x.double()
        g = None if g is None else g.double()
    stats = kernels.map_stats(x, g)  # pass 1
    chunk = _Chunk(x, stats[:4], prepared, dev, where)
    gt = None if g is None else _GroundTruth(g, stats[4:], where)
    moments = _Moments(chunk, gt) if {"nss", "cc", "sim", "kld"}.intersection(wanted) else None
    judd = _JuddBins(chunk, host, lo) if "auc_judd" in wanted else None
    sums = _SimKld(chunk, gt, moments, wanted, where) if {"sim", "kld"}.intersection(wanted) else None
    bins, l1, kl = kernels.map_pass(
        x, g, None if judd is None else judd.args, None if sums is None else sums.args,
        host.jitter, "sim" in wanted, "kld" in wanted,
    )  # pass 2  # fmt: skip
    if judd is not None:
        out["auc_judd"][lo:hi] = judd.score(bins)
    if "auc_shuffled" in wanted:
        out["auc_shuffled"][lo:hi] = _auc_shuffled(chunk, n_splits, step)
    if "nss" in wanted:
        out["nss"][lo:hi] = _nss(chunk, moments)
    if "cc" in wanted:
        out["cc"][lo:hi] = _cc(chunk, gt, moments)
    if "sim" in wanted:
        out["sim"][lo:hi] = sums.sim(l1)
    if "kld" in wanted:
        out["kld"][lo:hi] = sums.kld(kl)


# ----------------------------------------------------------------------------- inputs


def _fixation_stack(
    fix: np.ndarray | torch.Tensor, name: str, video: str, labels: list[int]
) -> np.ndarray:
    """``[T, H, W]`` bool on the host; NaN/Inf or negative values are errors naming the frame."""
    a = fix.detach().cpu().numpy() if isinstance(fix, torch.Tensor) else np.asarray(fix)
    if a.ndim != 3 or 0 in a.shape:
        raise ValueError(f"video '{video}': {name} must be [T, H, W], got shape {a.shape}")
    if a.dtype == bool:
        return a
    bad = ~np.isfinite(a) | (a < 0)
    if bad.any():
        t = int(np.argwhere(bad)[0][0])
        frame = labels[t] if t < len(labels) else t
        raise ValueError(
            f"frame {frame} of video '{video}': {name} has NaN, Inf or negative values"
        )
    return a > 0


def _chunks(preds: Frames, chunk_size: int) -> list[tuple[int, int]]:
    """Frame ranges of at most ``chunk_size``; a sequence is also split where the shape changes."""
    n = len(preds)
    if isinstance(preds, (np.ndarray, torch.Tensor)):
        return [(lo, min(lo + chunk_size, n)) for lo in range(0, n, chunk_size)]
    ranges, lo = [], 0
    for i in range(1, n + 1):
        if i == n or i - lo == chunk_size or tuple(preds[i].shape) != tuple(preds[lo].shape):
            ranges.append((lo, i))
            lo = i
    return ranges


def _as_tensor(a: np.ndarray | torch.Tensor, dev: torch.device) -> torch.Tensor:
    if isinstance(a, torch.Tensor):
        return a.detach().to(dev)
    a = np.asarray(a)
    if a.dtype != bool and (not np.issubdtype(a.dtype, np.number) or np.iscomplexobj(a)):
        raise ValueError(f"maps must be real-valued, got dtype {a.dtype}")
    return torch.from_numpy(np.ascontiguousarray(a)).to(dev)


def _block(
    maps: Frames, lo: int, hi: int, dev: torch.device, where: list[str], name: str
) -> torch.Tensor:
    """Frames ``lo:hi`` as one ``[t, h, w]`` tensor on ``dev`` (any real dtype)."""
    if isinstance(maps, (np.ndarray, torch.Tensor)):
        if maps.ndim != 3:
            raise ValueError(f"{name}s must be [T, h, w], got shape {tuple(maps.shape)}")
        return _as_tensor(maps[lo:hi], dev)
    for i in range(lo, hi):
        if maps[i].ndim != 2:
            raise ValueError(
                f"{where[i - lo]}: {name} must be 2-D, got shape {tuple(maps[i].shape)}"
            )
    return torch.stack([_as_tensor(maps[i], dev) for i in range(lo, hi)])


def _flatnonzero(mask: torch.Tensor) -> torch.Tensor:
    """Indices of the true entries of a 1-D mask (numpy's is several times faster on CPU)."""
    if mask.device.type == "cpu":
        return torch.from_numpy(np.flatnonzero(mask.numpy()))
    return mask.nonzero().squeeze(1)


def _check_finite(lo: torch.Tensor, hi: torch.Tensor, where: list[str], name: str) -> None:
    """min/max propagate NaN and expose Inf, so they double as the finiteness check."""
    ok = torch.isfinite(lo) & torch.isfinite(hi)
    if not bool(ok.all()):
        i = int((~ok).nonzero()[0, 0])
        raise ValueError(f"{where[i]}: {name} contains NaN or Inf values")


@dataclass
class _Prepared:
    """Host-side inputs of one chunk, built by :class:`_HostWork` (possibly in a helper thread)."""

    fix_pos: np.ndarray  # [t, K] fixated pixel indices, padded with 0
    fix_valid: np.ndarray  # [t, K]
    n_fix: np.ndarray  # [t]
    neg_pos: np.ndarray | None  # [t, S, k] s-AUC negative pixel indices, padded with 0
    neg_valid: np.ndarray | None  # [t, S, k]
    n_neg: np.ndarray | None  # [t] k per frame (0: no negatives)


class _HostWork:
    """Everything random or index-like, drawn with numpy from each frame's own stream."""

    def __init__(
        self,
        fix_np: np.ndarray,
        negatives: _NegativeCandidates | None,
        labels: list[int],
        seed: int,
        video: str,
        n_splits: int,
        jitter: bool,
    ) -> None:
        self.fix = fix_np.reshape(fix_np.shape[0], -1)  # [T, P]
        self.negatives, self.labels, self.seed, self.video = negatives, labels, seed, video
        self.n_splits, self.jitter = n_splits, jitter

    def prepare(self, lo: int, hi: int) -> _Prepared:
        """Host inputs of frames ``lo:hi``: fixation indices and the s-AUC samples."""
        fix = self.fix[lo:hi]  # [t, P]
        pos, valid, n_fix = _ragged(fix)
        neg_pos = neg_valid = n_neg = None
        if self.negatives is not None:
            neg_pos, neg_valid, n_neg = self._draw_negatives(lo, fix, n_fix)
        return _Prepared(pos, valid, n_fix, neg_pos, neg_valid, n_neg)

    def jitter_at(self, index: int, n_pix: int, pixels: np.ndarray) -> np.ndarray:
        """The MIT jitter's ``rand`` of frame ``index`` (of the video) at sorted ``pixels``."""
        rng = metric_rng(self.seed, self.video, self.labels[index], "auc_judd")
        return draw_at(rng, n_pix, pixels)

    def _draw_negatives(
        self, lo: int, fix: np.ndarray, n_fix: np.ndarray
    ) -> tuple[np.ndarray, ...]:
        t = fix.shape[0]
        picks, ks = [], np.zeros(t, dtype=np.int64)
        for i in range(t):
            cand = self.negatives.candidates(lo + i, fix[i])
            if n_fix[i] == 0 or cand.size == 0:
                picks.append(None)
                continue
            ks[i] = min(int(n_fix[i]), cand.size)
            rng = metric_rng(self.seed, self.video, self.labels[lo + i], "auc_shuffled")
            picks.append(cand[sample_subsets(rng, cand.size, int(ks[i]), self.n_splits)])  # [S, k]
        k_max = max(int(ks.max()), 1)
        pos = np.zeros((t, self.n_splits, k_max), dtype=np.int64)
        valid = np.zeros((t, self.n_splits, k_max), dtype=bool)
        for i, p in enumerate(picks):
            if p is not None:
                pos[i, :, : p.shape[1]] = p
                valid[i, :, : p.shape[1]] = True
        return pos, valid, ks


def _ragged(fix: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fixated pixel indices per row of ``fix [t, P]``: padded ``[t, K]`` matrix, mask, counts."""
    t, n_pix = fix.shape
    rows, cols = np.divmod(np.flatnonzero(fix), n_pix)  # row-major, grouped by frame
    n_fix = np.bincount(rows, minlength=t)  # [t]
    rank = np.arange(rows.size) - np.concatenate(([0], np.cumsum(n_fix)[:-1]))[rows]
    k_max = max(int(n_fix.max()), 1) if t else 1
    pos = np.zeros((t, k_max), dtype=np.int64)
    valid = np.zeros((t, k_max), dtype=bool)
    pos[rows, rank] = cols
    valid[rows, rank] = True
    return pos, valid, n_fix


class _Chunk:
    """One chunk of predictions ``[t, P]`` on the device with what every metric shares."""

    def __init__(
        self, x: torch.Tensor, stats: Sequence[torch.Tensor], prepared: _Prepared,
        dev: torch.device, where: list[str],
    ) -> None:  # fmt: skip
        self.x = x  # [t, P] as given (any real dtype); read in float64
        self.n_frames, self.n_pix = x.shape
        self.lo, self.hi, self.sum_x, self.sq_x = stats  # [t] each, float64
        _check_finite(self.lo, self.hi, where, "prediction")
        self.constant = self.lo == self.hi  # [t]
        self.span = torch.where(self.constant, 1.0, self.hi - self.lo)  # [t], 1 avoids 0/0
        self.n_fix = prepared.n_fix  # [t] host
        self.fix_pos = torch.from_numpy(prepared.fix_pos).to(dev)  # [t, K]
        self.fix_valid = torch.from_numpy(prepared.fix_valid).to(dev)  # [t, K]
        self.n_fix_t = torch.from_numpy(prepared.n_fix).to(dev)  # [t]
        self.prepared = prepared
        self.dev = dev

    def at_fixations(self) -> torch.Tensor:
        """``x[f, fixated pixels]`` as float64 ``[t, K]`` (padding holds pixel 0; see fix_valid)."""
        return self.x.gather(1, self.fix_pos).double()

    def rows(self, rows: torch.Tensor) -> torch.Tensor:
        """Whole frames ``x[rows]`` in float64, for the few rows redone with careful formulas."""
        return self.x[rows].double()


class _GroundTruth:
    """One chunk of ground-truth maps ``[t, P]`` with its per-frame statistics."""

    def __init__(self, g: torch.Tensor, stats: Sequence[torch.Tensor], where: list[str]) -> None:
        self.g = g  # [t, P] as given (any real dtype); read in float64
        self.lo, self.hi, self.sum_g, self.sq_g, self.xg = stats  # [t] each, float64
        _check_finite(self.lo, self.hi, where, "ground-truth map")
        self.constant = self.lo == self.hi  # no ground truth: NaN for cc, sim, kld


# ----------------------------------------------------------------------------- AUC-Judd


class _JuddBins:
    """AUC-Judd around pass 2: bin scale and candidate bins before it, exact counts after it.

    MIT AUC-Judd counts, for each fixated value ``a`` of the jittered map ``s = x + rand / 1e7``,
    the pixels with ``s >= a``. A histogram settles most pixels: ``bin(v)`` (kernels.judd_bin) is
    monotone non-decreasing, so a pixel whose bin holds no threshold is above exactly the
    thresholds in lower bins. As ``x <= s <= x + 1e-7``, a pixel with ``bin(x) == bin(x + 1e-7)``
    has ``bin(s) = bin(x)``: pass 2 bins ``x`` alone and never reads a jitter. Its "edge" pixels
    (the two bins differ; about ``1e-7 * scale`` of them) go to a sentinel bin; they and the
    pixels in candidate bins (``bin(x_f) .. bin(x_f + 1e-7)`` of each fixated pixel f, a superset
    of the thresholds' bins) are the few ambiguous pixels. Only those get their jitter (drawn
    block by block from the frame's stream, :func:`~avsal.metrics.streams.draw_at`) and are
    compared one by one. Integer counts: exact.
    """

    def __init__(self, chunk: _Chunk, host: _HostWork, first_index: int) -> None:
        t, dev = chunk.n_frames, chunk.dev
        self.jitter = host.jitter
        width = chunk.hi - chunk.lo + (JITTER_MAX if self.jitter else 0.0)  # [t], >= s - lo
        scale = JUDD_BINS / width
        usable = (width > 0) & torch.isfinite(width) & torch.isfinite(scale)
        # where the range is 0 or beyond float64, every pixel goes to bin 0 and is compared
        # exactly: scale 0 and lo 0 (values are finite, so (v - 0) * 0 = 0, never inf * 0)
        self.scale = torch.where(usable, scale, 0.0)[:, None]  # [t, 1]
        self.lo = torch.where(usable, chunk.lo, 0.0)[:, None]
        self.n_bins = n_bins = JUDD_BINS + 2  # 0..B, and B + 1: the sentinel of edge pixels
        self.first = torch.arange(t, device=dev, dtype=torch.int32)[:, None] * n_bins  # [t, 1]
        x_f = chunk.at_fixations()  # [t, K]
        low = judd_bin(x_f, self.lo, self.scale).long()
        high = judd_bin(x_f + JITTER_MAX, self.lo, self.scale).long() if self.jitter else low
        valid = chunk.fix_valid.long()
        edges = torch.zeros(t, n_bins + 1, dtype=torch.int64, device=dev)
        edges.scatter_add_(1, low, valid).scatter_add_(1, high + 1, -valid)
        candidate = edges.cumsum(1)[:, :n_bins] > 0  # [t, bins]
        candidate[:, n_bins - 1] = True
        self.candidate = candidate.view(-1)
        self.args = (self.lo, self.scale, self.first)
        self.chunk, self.host, self.first_index = chunk, host, first_index

    def score(self, pix_bin: torch.Tensor) -> np.ndarray:
        """AUC-Judd per frame from pass 2's bins ``[t, P]`` (int32, frame offsets included)."""
        chunk, n_bins = self.chunk, self.n_bins
        t, n_pix, dev = chunk.n_frames, chunk.n_pix, chunk.dev
        flat_bins = pix_bin.view(-1)
        amb = _flatnonzero(self.candidate.index_select(0, flat_bins))  # [m] ascending
        s_amb = chunk.x.reshape(-1)[amb].double()  # [m]
        if self.jitter:
            s_amb = s_amb + self._rand(amb) / JITTER_DIVISOR  # as the per-frame function forms s
        # thresholds: s at the fixated pixels, all among the ambiguous ones
        fix_flat = (torch.arange(t, device=dev)[:, None] * n_pix + chunk.fix_pos)[chunk.fix_valid]
        at = torch.searchsorted(amb, fix_flat).clamp(max=max(amb.numel() - 1, 0))
        if amb.numel() < fix_flat.numel() or not torch.equal(amb[at], fix_flat):
            # pass 2 must bin every pixel exactly as __init__ did; anything else is a compiler bug
            raise RuntimeError("AUC-Judd: the kernel binned a fixated pixel unlike its threshold")
        thr = torch.full(chunk.fix_pos.shape, math.inf, dtype=torch.float64, device=dev)
        thr[chunk.fix_valid] = s_amb[at]
        thr = thr.sort(dim=1).values  # [t, K] ascending, padding (inf) last
        k = thr.shape[1]
        # settled pixels: rank = number of thresholds in lower bins
        thr_bin = judd_bin(thr, self.lo, self.scale) + self.first
        counted = thr_bin.view(-1)[torch.isfinite(thr).view(-1)].long()  # padding left out
        n_thr = torch.zeros(t * n_bins, dtype=torch.int64, device=dev)
        n_thr = n_thr.index_add_(0, counted, torch.ones_like(counted)).view(t, n_bins)
        below = n_thr.cumsum(1) - n_thr  # [t, bins]
        hist = torch.bincount(flat_bins, minlength=t * n_bins).view(t, n_bins)
        settled = torch.where(self.candidate.view(t, n_bins), 0, hist)
        # rank[f, r] = number of pixels with exactly r thresholds <= their value
        rank = torch.zeros(t, k + 1, dtype=torch.int64, device=dev)
        rank.scatter_add_(1, below.clamp(max=k), settled)
        rows = torch.div(amb, n_pix, rounding_mode="floor")
        per_slice = max(1, (1 << 22) // max(k, 1))  # bounds the [m, K] comparison
        for start in range(0, amb.numel(), per_slice):
            r_rows, r_s = rows[start : start + per_slice], s_amb[start : start + per_slice]
            r = (thr.index_select(0, r_rows) <= r_s[:, None]).sum(dim=1)  # [m] exact rank
            rank.view(-1).index_add_(0, r_rows * (k + 1) + r, torch.ones_like(r))
        above = rank.flip(1).cumsum(1).flip(1)[:, 1:]  # [t, K]: #(s >= thr[j])
        return _judd_area(chunk, above)

    def _rand(self, amb: torch.Tensor) -> torch.Tensor:
        """The jitter's rand at the ambiguous pixels, frame by frame from each frame's stream."""
        chunk, n_pix = self.chunk, self.chunk.n_pix
        flat = amb.cpu().numpy()
        bounds = np.searchsorted(flat, np.arange(chunk.n_frames + 1) * n_pix)
        rand = np.zeros(flat.size)
        skip = chunk.constant.cpu().numpy() | (chunk.n_fix == 0)  # scored without a jitter
        for f in range(chunk.n_frames):
            lo, hi = bounds[f], bounds[f + 1]
            if hi > lo and not skip[f]:
                pixels = flat[lo:hi] - f * n_pix
                rand[lo:hi] = self.host.jitter_at(self.first_index + f, n_pix, pixels)
        return torch.from_numpy(rand).to(amb.device)


def _judd_area(chunk: _Chunk, above: torch.Tensor) -> np.ndarray:
    """The MIT ROC area from ``above[f, j] = #(s >= thr[f, j])`` (ascending thresholds)."""
    t, n_pix, dev = chunk.n_frames, chunk.n_pix, chunk.dev
    k = above.shape[1]
    n_fix = chunk.n_fix_t[:, None]  # [t, 1] int64
    # MIT order: i-th largest threshold, i = 1..Nf, is thr[Nf - i]; columns past Nf: (1, 1)
    i = torch.arange(1, k + 1, device=dev)[None, :]  # [1, K] int64
    real = i <= n_fix
    above_i = above.gather(1, (n_fix - i).clamp(min=0))  # [t, K]
    # integer numerators and denominators, one float64 division: as numpy's int / int
    tp = torch.where(real, i.double() / n_fix.double(), 1.0)
    fp = torch.where(real, (above_i - i).double() / (n_pix - n_fix).double(), 1.0)
    zeros = torch.zeros(t, 1, dtype=torch.float64, device=dev)
    ones = torch.ones_like(zeros)
    area = torch.trapezoid(torch.cat([zeros, tp, ones], 1), torch.cat([zeros, fp, ones], 1), dim=1)
    out = torch.where(chunk.constant, 0.5, area).cpu().numpy()
    out[(chunk.n_fix == 0) | (chunk.n_fix == n_pix)] = math.nan
    return out


# ----------------------------------------------------------------------------- s-AUC


class _NegativeCandidates:
    """Per-frame s-AUC candidate locations (row-major pixel indices), as the per-frame function sees them."""

    def __init__(
        self,
        fix_np: np.ndarray,
        other_fix: np.ndarray | torch.Tensor | None,
        video: str,
        labels: list[int],
    ) -> None:
        n_pix = fix_np.shape[1] * fix_np.shape[2]
        self.other = None
        self.union = None
        if other_fix is None:
            self.union = np.flatnonzero(fix_np.reshape(fix_np.shape[0], n_pix).any(axis=0))
        else:
            other = _fixation_stack(other_fix, "other-frame fixation maps", video, labels)
            if other.shape != fix_np.shape:
                raise ValueError(
                    f"video '{video}': other-frame fixation maps have shape {other.shape} but "
                    f"fixation maps have shape {fix_np.shape}"
                )
            self.other = other.reshape(other.shape[0], n_pix)

    def candidates(self, index: int, fix_row: np.ndarray) -> np.ndarray:
        if self.other is not None:
            return np.flatnonzero(self.other[index])
        return self.union[~fix_row[self.union]]  # union of the video minus this frame's fixations


def _auc_shuffled(chunk: _Chunk, n_splits: int, step: float) -> np.ndarray:
    t, dev = chunk.n_frames, chunk.dev
    ks = chunk.prepared.n_neg
    pos = torch.from_numpy(chunk.prepared.neg_pos).to(dev)  # [t, S, k]
    valid = torch.from_numpy(chunk.prepared.neg_valid).to(dev)
    lo, span = chunk.lo[:, None], chunk.span[:, None]  # [t, 1]
    s_fix = (chunk.at_fixations() - lo) / span  # [t, K], normalised as frame._minmax
    s_neg = ((chunk.x.gather(1, pos.view(t, -1)).double() - lo) / span).view(
        t, n_splits, -1
    )  # [t, S, k]
    grid = (
        torch.arange(math.floor(1.0 / step + _COLON_TOL) + 1, dtype=torch.float64, device=dev)
        * step
    )
    grid = grid.flip(0)  # [G] descending, as fliplr(0:step:max); points above max are (0, 0)
    tp = ((s_fix[:, :, None] >= grid) & chunk.fix_valid[:, :, None]).sum(1)  # [t, G]
    tp = tp.double() / chunk.n_fix_t[:, None].clamp(min=1).double()
    k = torch.from_numpy(ks).to(dev).clamp(min=1)[:, None, None].double()
    fp = ((s_neg[..., None] >= grid) & valid[..., None]).sum(2).double() / k  # [t, S, G]
    tp = tp[:, None, :].expand(-1, n_splits, -1)
    zeros = torch.zeros(t, n_splits, 1, dtype=torch.float64, device=dev)
    ones = torch.ones_like(zeros)
    area = torch.trapezoid(torch.cat([zeros, tp, ones], 2), torch.cat([zeros, fp, ones], 2), dim=2)
    score = torch.where(chunk.constant, 0.5, area.mean(dim=1)).cpu().numpy()
    score[(chunk.n_fix == 0) | (ks == 0)] = math.nan
    return score


# ----------------------------------------------------------------------------- NSS, CC, SIM, KLD


class _Moments:
    """Row sums and centred second moments of the prediction (and GT) for NSS, CC and SIM.

    Taken from the kernels' raw sums (``sum x``, ``sum x * x``, ...; one read of each map), which
    lose ``eps * mean**2 / var`` of relative accuracy. Rows where that could exceed ~1e-12
    (mean**2 > 1e3 * var, or a minimum far from the mean) are recomputed exactly with centred maps.
    """

    def __init__(self, chunk: _Chunk, gt: _GroundTruth | None) -> None:
        n = chunk.n_pix
        self.sum_x = chunk.sum_x
        self.ss_x, self.above_x, self.ill_x = _centred(chunk.rows, chunk.lo, self.sum_x, chunk.sq_x)
        if gt is None:
            return
        rows_g = lambda r: gt.g[r].double()  # noqa: E731
        self.sum_g = gt.sum_g
        self.ss_g, self.above_g, self.ill_g = _centred(rows_g, gt.lo, self.sum_g, gt.sq_g)
        self.cross = gt.xg - self.sum_x * self.sum_g / n  # sum (x - mean_x)(g - mean_g)
        ill = self.ill_x | self.ill_g
        if bool(ill.any()):
            rows = ill.nonzero().squeeze(1)
            xr, gr = chunk.rows(rows), rows_g(rows)
            xc = xr - xr.mean(dim=1, keepdim=True)
            gc = gr - gr.mean(dim=1, keepdim=True)
            self.cross[rows] = (xc * gc).sum(dim=1)


def _centred(
    rows_of: Callable[[torch.Tensor], torch.Tensor],
    lo: torch.Tensor,
    total: torch.Tensor,
    squares: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``sum (a - mean)**2``, ``sum (a - min)`` and which rows were ill-conditioned (redone exactly).

    ``rows_of(rows)`` gives those rows of the map in float64.
    """
    n = rows_of(torch.zeros(0, dtype=torch.long, device=lo.device)).shape[1]
    ss = squares - total * total / n
    above = total - n * lo
    ill = (ss <= 1e-3 * squares) | (above <= 1e-3 * (total.abs() + n * lo.abs()))
    if bool(ill.any()):
        rows = ill.nonzero().squeeze(1)
        ar = rows_of(rows)
        ss[rows] = (ar - ar.mean(dim=1, keepdim=True)).square().sum(dim=1)
        above[rows] = (ar - lo[rows, None]).sum(dim=1)
    return ss, above, ill


def _nss(chunk: _Chunk, m: _Moments) -> np.ndarray:
    """``mean_fix(x) - mean(x)``, both taken relative to the minimum (no cancellation), over sd."""
    sd = (m.ss_x / (chunk.n_pix - 1)).sqrt()  # sample std, ddof = 1
    excess = torch.where(chunk.fix_valid, chunk.at_fixations() - chunk.lo[:, None], 0.0)
    fix_excess = excess.sum(1) / chunk.n_fix_t.clamp(min=1).double()
    score = (fix_excess - m.above_x / chunk.n_pix) / sd
    score = torch.where(chunk.constant, 0.0, score).cpu().numpy()
    score[chunk.n_fix == 0] = math.nan
    return score


def _cc(chunk: _Chunk, gt: _GroundTruth, m: _Moments) -> np.ndarray:
    score = torch.where(chunk.constant, 0.0, m.cross / (m.ss_x * m.ss_g).sqrt())
    return torch.where(gt.constant, math.nan, score).cpu().numpy()


class _SimKld:
    """SIM and KLD around pass 2: normalisation factors before it, scores after it.

    SIM: ``sum min(p, q) = 1 - sum |p - q| / 2`` for distributions p, q (no minimum map), with
    ``p = (x - min) / sum(x - min)`` the min-max-then-sum normalisation of frame.sim (a constant
    prediction is uniform, ``p = 1/P``). ``p - q`` is formed as ``a x + c - b g``, which cancels
    badly when a map's magnitude dwarfs its excess over its minimum (not so for saliency maps,
    whose minimum is near 0); such rows are redone with explicit ``x - min``.

    KLD: ``sum q log(eps + q / (p + eps))`` with ``p = x / sum x``, ``q = g / sum g`` (MIT KLdiv:
    no min-max), computed as ``sum g log(eps + g / (sum_g (p + eps))) / sum_g``.
    """

    def __init__(
        self,
        chunk: _Chunk,
        gt: _GroundTruth,
        m: _Moments,
        wanted: list[str],
        where: list[str],
    ) -> None:
        if "kld" in wanted:
            for low, name in ((chunk.lo, "prediction"), (gt.lo, "ground-truth map")):
                neg = low < 0
                if bool(neg.any()):
                    i = int(neg.nonzero()[0, 0])
                    raise ValueError(
                        f"{where[i]}: kld needs a non-negative {name}, min is {float(low[i])}"
                    )
        n = chunk.n_pix
        self.a_x = torch.where(chunk.constant, 0.0, 1.0 / m.above_x)  # [t]
        self.a_g = torch.where(gt.constant, 0.0, 1.0 / m.above_g)
        shift = torch.where(chunk.constant, 1.0 / n, -chunk.lo * self.a_x) + gt.lo * self.a_g
        p_a = torch.where(chunk.constant, 0.0, 1.0 / m.sum_x)  # constant (also all-zero): uniform
        p_eps = torch.where(chunk.constant, 1.0 / n, torch.zeros_like(m.sum_x)) + KLD_EPS  # [t]
        self.args = (
            self.a_x[:, None], shift[:, None], self.a_g[:, None],
            (p_a * m.sum_g)[:, None], (p_eps * m.sum_g)[:, None],
        )  # fmt: skip
        self.chunk, self.gt, self.m = chunk, gt, m

    def sim(self, l1: torch.Tensor) -> np.ndarray:
        chunk, gt, m, n = self.chunk, self.gt, self.m, self.chunk.n_pix
        score = 1.0 - 0.5 * l1
        careful = ~chunk.constant & ((chunk.lo.abs() + chunk.hi.abs()) * n > 1e3 * m.above_x)
        careful |= ~gt.constant & ((gt.lo.abs() + gt.hi.abs()) * n > 1e3 * m.above_g)
        for f in careful.nonzero().squeeze(1).tolist():
            x_f, g_f = chunk.x[f].double(), gt.g[f].double()
            p = (x_f - chunk.lo[f]) * self.a_x[f] if not bool(chunk.constant[f]) else 1.0 / n
            score[f] = 1.0 - 0.5 * (p - (g_f - gt.lo[f]) * self.a_g[f]).abs().sum()
        return torch.where(gt.constant, math.nan, score).cpu().numpy()

    def kld(self, kl: torch.Tensor) -> np.ndarray:
        return torch.where(self.gt.constant, math.nan, kl / self.m.sum_g).cpu().numpy()
