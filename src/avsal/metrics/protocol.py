"""The evaluation protocol (STAViS / MIT benchmark, as the paper used) as one function.

For every video: each predicted map is min-max normalised, brought to the ground-truth size and
blurred (Gaussian, ``sigma`` pixels at ground-truth resolution by default), then scored by the
engine (:func:`avsal.metrics.engine.score_video`): AUC-Judd with the MIT jitter, s-AUC with
negatives from the fixations of the other frames of the same video (STAViS ``createShuffmap1``,
minus the frame's own fixated pixels), NSS and both AUCs on the binary fixation maps, CC and SIM
on the continuous maps. Frames whose score is NaN (nothing to score, see
:mod:`avsal.metrics.frame`) are dropped per metric; each video's score is the mean over its
frames, each dataset's the unweighted mean over its videos. The random parts (jitter, s-AUC
samples) come from streams keyed by ``(config.seed, video name, frame label, metric)``
(:func:`avsal.metrics.streams.metric_rng`), so a video scores the same alone or in a dataset.

Pre-processing, and how it relates to STAViS ``postprocessMap.m`` (which clips ``255 * map`` to
[0, 255], rescales by the max, min-max normalises, blurs with ``fspecial('gaussian',
2*ceil(3*sigma)+1, sigma)`` and ``imfilter(..., 'symmetric')`` at the *prediction's* resolution,
then ``imresize``s to the GT size):

- min-max normalisation to [0, 1] (a constant map becomes all zeros): every metric except KLD is
  invariant to it; it makes the jitter scale and KLD well defined. No clipping: our predictions
  are probabilities already.
- ``blur_at="gt"`` (default, the design's "sigma = 2 px at GT size"): resize first, then blur with
  ``sigma`` in ground-truth pixels, so the blur means the same on every dataset whatever the
  network's output size. ``blur_at="prediction"``: the STAViS order, blur at the prediction's
  resolution (``sigma`` in prediction pixels), then resize. The two agree when the prediction
  already has the GT size.
- Gaussian: the fspecial kernel (size ``2*ceil(3*sigma)+1``, normalised to sum 1; separable) with
  MATLAB ``symmetric`` borders (edge pixel repeated: ``cba|abc|cba``). ``sigma=0`` skips it.
- resize: bilinear (``align_corners=False``, antialiased when shrinking), not MATLAB's default
  bicubic: bicubic overshoots (negative values) and the sigma = 2 blur that follows removes the
  difference.

The s-AUC negatives are a *binary* union, as in STAViS: on long videos with many fixations and a
small ground-truth grid the union can cover much of the frame, and s-AUC then drifts from
"chance for a centre prior" towards AUC-Judd (on the 500 real scenes in the tests, a union of 10
other images leaves a centre prior at 0.52, a union of all 499 at 0.70).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from avsal.metric_names import METRICS, PAPER_METRICS
from avsal.metrics.engine import score_video
from avsal.metrics.inputs import FixationPoints, Frames

#: Column order of the tidy per-frame table.
FRAME_COLUMNS = ("dataset", "video", "frame", "metric", "value")


@dataclass(frozen=True)
class VideoInput:
    """One video to evaluate.

    ``preds`` may have any spatial size (``[T, h, w]`` or a sequence of 2-D maps); ``fix``
    (binary points, or :class:`~avsal.metrics.inputs.FixationPoints`) and ``gt_maps``
    (continuous; an array or a lazy stack read chunk by chunk) are ``[T, H, W]`` at ground-truth
    size.
    ``frames`` labels the frames (default ``0..T-1``) in the table, in errors and in the random
    streams.
    """

    name: str
    preds: Frames
    fix: np.ndarray | torch.Tensor | FixationPoints
    gt_maps: np.ndarray | torch.Tensor | Frames | None = None
    frames: Sequence[int] | None = None


@dataclass(frozen=True)
class ProtocolConfig:
    """Evaluation settings; the defaults are the paper's (STAViS evaluation)."""

    sigma: float = 2.0
    blur_at: str = "gt"  # "gt" (resize, then blur) or "prediction" (STAViS: blur, then resize)
    metrics: tuple[str, ...] = PAPER_METRICS
    n_splits: int = 100
    step: float = 0.1
    jitter: bool = True
    seed: int = 0

    def __post_init__(self) -> None:
        if self.blur_at not in ("gt", "prediction"):
            raise ValueError(f"blur_at must be 'gt' or 'prediction', got {self.blur_at!r}")
        if not (self.sigma >= 0 and math.isfinite(self.sigma)):
            raise ValueError(f"sigma must be a finite number >= 0, got {self.sigma}")
        unknown = [m for m in self.metrics if m not in METRICS]
        if unknown:
            raise ValueError(f"unknown metrics {unknown}; known: {list(METRICS)}")


@dataclass
class Evaluation:
    """Per-frame scores (tidy, NaN kept so dropped frames stay visible) and the two summaries."""

    frames: pd.DataFrame  # dataset, video, frame, metric, value
    videos: pd.DataFrame = field(init=False)  # dataset, video, metric, value, n_frames, n_dropped
    datasets: pd.DataFrame = field(init=False)  # dataset, metric, value, n_videos

    def __post_init__(self) -> None:
        self.videos, self.datasets = summarise(self.frames)

    def table(self) -> pd.DataFrame:
        """Dataset x metric means (the layout of the paper's Table 4)."""
        wide = self.datasets.pivot(index="dataset", columns="metric", values="value")
        return wide[[m for m in METRICS if m in wide.columns]]


def evaluate(
    datasets: Mapping[str, Sequence[VideoInput]],
    config: ProtocolConfig = ProtocolConfig(),
    *,
    device: str | torch.device | None = None,
    chunk_size: int | None = None,
    workers: int | None = None,
) -> Evaluation:
    """Run the protocol on ``{dataset: [videos]}``; see the module docstring for every step."""
    rows: list[pd.DataFrame] = []
    for dataset, videos in datasets.items():
        names = [v.name for v in videos]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"dataset '{dataset}': duplicate video names {dup}")
        for video in videos:
            scores = evaluate_video(
                video, config, device=device, chunk_size=chunk_size, workers=workers
            )
            labels = list(range(len(video.preds))) if video.frames is None else list(video.frames)
            for metric in config.metrics:
                rows.append(
                    pd.DataFrame(
                        {
                            "dataset": dataset,
                            "video": video.name,
                            "frame": np.asarray(labels, dtype=np.int64),
                            "metric": metric,
                            "value": scores[metric],
                        }
                    )
                )
    frames = (
        pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=list(FRAME_COLUMNS))
    )
    return Evaluation(frames[list(FRAME_COLUMNS)])


def evaluate_video(
    video: VideoInput,
    config: ProtocolConfig = ProtocolConfig(),
    *,
    device: str | torch.device | None = None,
    chunk_size: int | None = None,
    workers: int | None = None,
) -> dict[str, np.ndarray]:
    """Per-frame scores ``{metric: [T]}`` of one video under the protocol."""
    size = tuple(video.fix.shape[1:])
    if len(size) != 2:
        raise ValueError(
            f"video '{video.name}': fixation maps must be [T, H, W], got {tuple(video.fix.shape)}"
        )

    def transform(x: torch.Tensor) -> torch.Tensor:
        return preprocess(x, size, sigma=config.sigma, blur_at=config.blur_at)

    return score_video(
        video.preds,
        video.fix,
        video.gt_maps,
        metrics=config.metrics,
        seed=config.seed,
        video=video.name,
        frames=video.frames,
        jitter=config.jitter,
        n_splits=config.n_splits,
        step=config.step,
        device=device,
        chunk_size=chunk_size,
        workers=workers,
        transform=transform,
    )


def summarise(frames: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-video means over non-NaN frames, then per-dataset unweighted means over videos.

    A video with no scorable frame for a metric has a NaN mean there and is left out of that
    dataset mean (``n_videos`` says how many videos entered each mean).
    """
    valid = frames["value"].notna()
    keys = ["dataset", "video", "metric"]
    videos = (
        frames.assign(_valid=valid)
        .groupby(keys, sort=False)
        .agg(value=("value", "mean"), n_frames=("_valid", "sum"), n_total=("_valid", "size"))
        .reset_index()
    )
    videos["n_frames"] = videos["n_frames"].astype(np.int64)
    videos["n_dropped"] = videos.pop("n_total").astype(np.int64) - videos["n_frames"]
    datasets = (
        videos.groupby(["dataset", "metric"], sort=False)
        .agg(value=("value", "mean"), n_videos=("value", "count"))
        .reset_index()
    )
    return videos, datasets


# ----------------------------------------------------------------------------- pre-processing


def preprocess(
    x: torch.Tensor, size: tuple[int, int], *, sigma: float = 2.0, blur_at: str = "gt"
) -> torch.Tensor:
    """Predictions ``[t, h, w]`` -> min-max normalised, resized to ``size``, blurred ``[t, H, W]``."""
    x = normalise(x.to(torch.float64))
    if blur_at == "gt":
        return gaussian_blur(resize(x, size), sigma)
    if blur_at == "prediction":
        return resize(gaussian_blur(x, sigma), size)
    raise ValueError(f"blur_at must be 'gt' or 'prediction', got {blur_at!r}")


def normalise(x: torch.Tensor) -> torch.Tensor:
    """Per-frame ``(x - min) / (max - min)``; a constant frame becomes zeros (stays constant)."""
    flat = x.flatten(1)
    lo = flat.amin(dim=1)
    span = flat.amax(dim=1) - lo
    span = torch.where(span > 0, span, torch.ones_like(span))
    return (x - lo[:, None, None]) / span[:, None, None]


def resize(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Bilinear resize of ``[t, h, w]`` to ``size`` (antialiased when shrinking); no-op if equal."""
    if tuple(x.shape[1:]) == tuple(size):
        return x
    shrink = size[0] < x.shape[1] or size[1] < x.shape[2]
    return F.interpolate(
        x[:, None], size=size, mode="bilinear", align_corners=False, antialias=shrink
    )[:, 0]


def gaussian_kernel(sigma: float) -> np.ndarray:
    """1-D factor of MATLAB ``fspecial('gaussian', 2*ceil(3*sigma)+1, sigma)``, summing to 1."""
    radius = math.ceil(3 * sigma)
    taps = np.exp(-(np.arange(-radius, radius + 1, dtype=np.float64) ** 2) / (2 * sigma * sigma))
    return taps / taps.sum()


def gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of ``[t, h, w]`` with MATLAB ``symmetric`` borders.

    On CPU through OpenCV (``BORDER_REFLECT`` is MATLAB's ``symmetric``); on other devices
    through two 1-D convolutions in torch (:func:`gaussian_blur_torch`); both are tested equal.
    """
    if sigma == 0:
        return x
    if x.device.type != "cpu":
        return gaussian_blur_torch(x, sigma)
    k = gaussian_kernel(sigma)
    frames = x.detach().to(torch.float64).contiguous().numpy()
    out = np.empty_like(frames)
    for i in range(frames.shape[0]):
        out[i] = cv2.sepFilter2D(frames[i], cv2.CV_64F, k, k, borderType=cv2.BORDER_REFLECT)
    return torch.from_numpy(out)


def gaussian_blur_torch(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """The same blur with torch ops on any device."""
    if sigma == 0:
        return x
    k = torch.from_numpy(gaussian_kernel(sigma)).to(x.device, torch.float64)
    r = (k.numel() - 1) // 2
    h, w = x.shape[1:]
    p = x.to(torch.float64).index_select(1, _symmetric_index(h, r, x.device))
    p = p.index_select(2, _symmetric_index(w, r, x.device))[:, None]  # [t, 1, h+2r, w+2r]
    p = F.conv2d(p, k.view(1, 1, -1, 1))
    return F.conv2d(p, k.view(1, 1, 1, -1))[:, 0]


def _symmetric_index(n: int, r: int, device: torch.device) -> torch.Tensor:
    """Indices of MATLAB ``symmetric`` padding by ``r`` of a length-``n`` axis (any ``r``)."""
    i = torch.remainder(torch.arange(-r, n + r, device=device), 2 * n)
    return torch.where(i < n, i, 2 * n - 1 - i)
