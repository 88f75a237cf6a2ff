"""Per-frame saliency metrics, as the MIT saliency benchmark code defines them (STAViS evaluation).

Each function scores one 2-D prediction against one 2-D ground truth of the same shape (numpy
arrays or torch tensors; computed in float64 on the host). They are the reference the batched
engine (:mod:`avsal.metrics.engine`) is tested against, so they favour plain, checkable code.

Definitions (MIT ``code_forMetrics``):

- ``auc_judd``: jitter (``rand/1e7`` added to the map as given), thresholds = saliency at the
  fixated pixels in descending order; ``tp[i] = i/Nf``, ``fp[i] = (#pixels >= thr_i - i)/(Npix -
  Nf)``; curve padded with (0,0) and (1,1); trapezoid area. Ties are not corrected (as MIT): that
  is what the jitter is for. MIT min-max normalises after the jitter; that is a positive affine
  map, which leaves every ``>=`` comparison and so the curve unchanged, so we compare the
  jittered values directly (normalising could only merge two values one ulp apart by rounding).
- ``auc_shuffled``: min-max normalise; per split, ``k = min(Nf, #negatives)`` negative locations
  drawn without replacement from ``other_fix``; thresholds ``fliplr(0:step:max)`` over the fixated
  and sampled values; ``tp = mean(Sth >= t)``, ``fp = mean(Srand >= t)``; padded with 0 and 1;
  trapezoid; mean over splits.
- ``nss``: map z-scored with the *sample* standard deviation (MATLAB ``std``, ddof=1), mean at
  fixations.
- ``cc``: Pearson correlation of the two maps (MIT z-scores both with ``std`` then calls
  ``corr2``, which makes the ddof irrelevant).
- ``sim``: both maps min-max normalised then divided by their sum; sum of the element-wise minimum.
- ``kld``: KL(gt || prediction) = ``sum(g * log(eps + g / (p + eps)))`` with both maps divided by
  their sum (no min-max, as MIT ``KLdiv``) and ``eps = 2.2204e-16`` (MATLAB ``eps``).

Edge cases, the same in every implementation:

- **No ground truth -> NaN.** A frame with no fixated pixel gives NaN for ``auc_judd``,
  ``auc_shuffled`` and ``nss``; a constant ground-truth map (all zeros: a frame nobody looked at)
  gives NaN for ``cc``, ``sim`` and ``kld``. NaN means "cannot be scored"; the protocol drops such
  frames. Also NaN: ``auc_judd`` when every pixel is fixated (no negatives), ``auc_shuffled`` when
  ``other_fix`` is empty (no negatives to draw). MIT returns 0 for ``sim`` on an empty map and
  NaN for the others; we return NaN for all, so an unseen frame never counts as a zero.
- **Constant prediction -> chance level, not NaN.** ``auc_judd = auc_shuffled = 0.5``,
  ``nss = cc = 0``, and ``sim``/``kld`` treat the map as uniform. The MIT code returns NaN (0/0)
  for most of these, and the protocol drops NaN frames, which would let a model that emits blank
  maps on hard frames raise its mean. (With jitter MIT's AUC-Judd of a constant map is a coin
  toss around 0.5; we return exactly 0.5 and draw no jitter.)
- **Bad input -> error.** NaN or Inf in any map, a map that is not 2-D or is empty, a shape
  mismatch (both shapes are named), a negative fixation map, a negative map given to ``kld``
  raise ``ValueError``; ``where`` (e.g. ``"frame 17 of video 'v3'"``) starts the message.

Fixation maps may be bool or numeric; any positive value marks a fixated pixel.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from avsal.metrics.streams import as_generator, jitter_noise, sample_subsets

#: MATLAB ``eps`` (2^-52), the regulariser of MIT ``KLdiv``.
KLD_EPS = float(np.finfo(np.float64).eps)

#: Tolerance of the ``0:step:max`` threshold count (as MATLAB's colon, which snaps to its end).
_COLON_TOL = 1e-9

Map = np.ndarray | torch.Tensor


def _prefix(where: str) -> str:
    return f"{where}: " if where else ""


def as_map(x: Map, *, name: str, where: str = "") -> np.ndarray:
    """``x`` as a finite float64 2-D numpy array; raises ``ValueError`` naming ``where``."""
    if isinstance(x, torch.Tensor):
        x = x.detach().to("cpu")
        x = x.numpy() if x.dtype == torch.bool else x.to(torch.float64).numpy()
    a = np.asarray(x)
    if a.ndim != 2:
        raise ValueError(f"{_prefix(where)}{name} must be a 2-D map, got shape {a.shape}")
    if a.size == 0:
        raise ValueError(f"{_prefix(where)}{name} is empty (shape {a.shape})")
    if a.dtype != bool and (not np.issubdtype(a.dtype, np.number) or np.iscomplexobj(a)):
        raise ValueError(f"{_prefix(where)}{name} must be real-valued, got dtype {a.dtype}")
    a = a.astype(np.float64, copy=False)
    finite = np.isfinite(a)
    if not finite.all():
        n_nan = int(np.isnan(a).sum())
        raise ValueError(
            f"{_prefix(where)}{name} contains {n_nan} NaN and {int((~finite).sum()) - n_nan} "
            f"Inf values (first at row/col {tuple(int(v) for v in np.argwhere(~finite)[0])})"
        )
    return a


def fixation_mask(fix: Map, *, name: str = "fixation map", where: str = "") -> np.ndarray:
    """Boolean mask of fixated pixels (value > 0); negative values are an error."""
    a = as_map(fix, name=name, where=where)
    if (a < 0).any():
        raise ValueError(f"{_prefix(where)}{name} has negative values; expected 0/1 or counts")
    return a > 0


def check_same_shape(
    a: np.ndarray, b: np.ndarray, name_a: str, name_b: str, where: str = ""
) -> None:
    """Raise ``ValueError`` naming both shapes if they differ."""
    if a.shape != b.shape:
        raise ValueError(
            f"{_prefix(where)}{name_a} has shape {a.shape} but {name_b} has shape {b.shape}; "
            "resize the prediction to the ground-truth size first (see avsal.metrics.protocol)"
        )


def _is_constant(a: np.ndarray) -> bool:
    return bool(a.max() == a.min())


def _minmax(a: np.ndarray) -> np.ndarray:
    """MIT normalisation ``(a - min) / (max - min)``; the caller has excluded constant maps."""
    lo = a.min()
    return (a - lo) / (a.max() - lo)


def auc_judd(
    sal: Map,
    fix: Map,
    *,
    jitter: bool = True,
    rng: np.random.Generator | int | None = None,
    where: str = "",
) -> float:
    """AUC-Judd (MIT ``AUC_Judd``): ROC area with thresholds at the fixated saliency values.

    ``rng`` feeds the jitter (``rng.random(shape)/1e7``, see :mod:`avsal.metrics.streams`); None
    means seed 0. ``jitter=False`` keeps ties untouched, exactly as MIT with ``jitter=0``.
    """
    s = as_map(sal, name="prediction", where=where)
    f = fixation_mask(fix, where=where)
    check_same_shape(s, f, "prediction", "fixation map", where)
    n_fix, n_pix = int(f.sum()), s.size
    if n_fix == 0 or n_fix == n_pix:
        return math.nan  # nothing to predict, or no negatives
    if _is_constant(s):
        return 0.5
    if jitter:
        s = s + jitter_noise(as_generator(rng), s.shape)
    thresholds = np.sort(s[f])[::-1]  # [Nf] descending
    above = n_pix - np.searchsorted(np.sort(s, axis=None), thresholds, side="left")  # #(s >= thr)
    i = np.arange(1, n_fix + 1)
    tp = np.concatenate(([0.0], i / n_fix, [1.0]))
    fp = np.concatenate(([0.0], (above - i) / (n_pix - n_fix), [1.0]))
    return float(np.trapezoid(tp, fp))


def auc_shuffled(
    sal: Map,
    fix: Map,
    other_fix: Map,
    *,
    n_splits: int = 100,
    step: float = 0.1,
    rng: np.random.Generator | int | None = None,
    where: str = "",
) -> float:
    """Shuffled AUC (MIT ``AUC_shuffled``): negatives are fixations of other frames/images.

    ``other_fix`` marks the candidate negative locations, used as given (the protocol removes the
    frame's own fixated pixels from the video's union, as STAViS does). Negatives are drawn with
    :func:`~avsal.metrics.streams.sample_subsets` from the candidates in row-major order.
    Thresholds are ``i * step`` for ``i = floor(max/step) .. 0`` (MATLAB ``0:step:max`` reversed).
    """
    if n_splits < 1 or not step > 0:
        raise ValueError(f"need n_splits >= 1 and step > 0, got n_splits={n_splits}, step={step}")
    s = as_map(sal, name="prediction", where=where)
    f = fixation_mask(fix, where=where)
    o = fixation_mask(other_fix, name="other-frame fixation map", where=where)
    check_same_shape(s, f, "prediction", "fixation map", where)
    check_same_shape(s, o, "prediction", "other-frame fixation map", where)
    candidates = np.flatnonzero(o)  # [n] row-major
    n_fix, n_neg = int(f.sum()), candidates.size
    if n_fix == 0 or n_neg == 0:
        return math.nan
    if _is_constant(s):
        return 0.5
    s = _minmax(s).ravel()
    s_fix = s[f.ravel()]  # [Nf]
    k = min(n_fix, n_neg)
    s_neg = s[candidates[sample_subsets(as_generator(rng), n_neg, k, n_splits)]]  # [S, k]
    areas = np.empty(n_splits)
    for j in range(n_splits):
        top = max(s_fix.max(), s_neg[j].max())
        thresholds = np.arange(math.floor(top / step + _COLON_TOL), -1, -1) * step
        tp = (s_fix[:, None] >= thresholds).mean(axis=0)
        fp = (s_neg[j][:, None] >= thresholds).mean(axis=0)
        areas[j] = np.trapezoid(np.r_[0.0, tp, 1.0], np.r_[0.0, fp, 1.0])
    return float(areas.mean())


def nss(sal: Map, fix: Map, *, where: str = "") -> float:
    """Normalised scanpath saliency: mean z-score (sample std, ddof=1) at the fixated pixels."""
    s = as_map(sal, name="prediction", where=where)
    f = fixation_mask(fix, where=where)
    check_same_shape(s, f, "prediction", "fixation map", where)
    if not f.any():
        return math.nan
    if _is_constant(s):
        return 0.0
    z = (s - s.mean()) / s.std(ddof=1)
    return float(z[f].mean())


def _gt_map(gt_map: Map, s: np.ndarray, where: str) -> np.ndarray:
    g = as_map(gt_map, name="ground-truth map", where=where)
    check_same_shape(s, g, "prediction", "ground-truth map", where)
    return g


def cc(sal: Map, gt_map: Map, *, where: str = "") -> float:
    """Linear correlation coefficient (Pearson) between prediction and continuous GT map."""
    s = as_map(sal, name="prediction", where=where)
    g = _gt_map(gt_map, s, where)
    if _is_constant(g):
        return math.nan
    if _is_constant(s):
        return 0.0
    a = s - s.mean()
    b = g - g.mean()
    return float((a * b).sum() / math.sqrt((a * a).sum() * (b * b).sum()))


def _as_distribution(a: np.ndarray) -> np.ndarray:
    """Min-max normalised then divided by its sum; a constant map becomes uniform."""
    if _is_constant(a):
        return np.full(a.shape, 1.0 / a.size)
    a = _minmax(a)
    return a / a.sum()


def sim(sal: Map, gt_map: Map, *, where: str = "") -> float:
    """Similarity (histogram intersection) of the two maps as distributions."""
    s = as_map(sal, name="prediction", where=where)
    g = _gt_map(gt_map, s, where)
    if _is_constant(g):
        return math.nan
    return float(np.minimum(_as_distribution(s), _as_distribution(g)).sum())


def kld(sal: Map, gt_map: Map, *, where: str = "") -> float:
    """KL divergence KL(gt || prediction), MIT ``KLdiv`` (sum-normalised, eps-regularised).

    Lower is better. Both maps must be non-negative; a constant prediction counts as uniform.
    """
    s = as_map(sal, name="prediction", where=where)
    g = _gt_map(gt_map, s, where)
    for a, name in ((s, "prediction"), (g, "ground-truth map")):
        if (a < 0).any():
            raise ValueError(f"{_prefix(where)}kld needs a non-negative {name}, min is {a.min()}")
    if _is_constant(g):
        return math.nan
    p = np.full(s.shape, 1.0 / s.size) if _is_constant(s) else s / s.sum()
    q = g / g.sum()
    return float((q * np.log(KLD_EPS + q / (p + KLD_EPS))).sum())
