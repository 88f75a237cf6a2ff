"""Saliency metrics (MIT saliency benchmark definitions, STAViS evaluation) and the protocol.

- :mod:`avsal.metrics.frame`: pure per-frame functions (numpy/torch 2-D maps), the reference;
- :mod:`avsal.metrics.engine`: the batched torch engine (CPU/CUDA), same numbers, much faster;
- :mod:`avsal.metrics.protocol`: blur + resize + metrics + per-video and per-dataset means;
- :mod:`avsal.metrics.streams`: the random streams (AUC-Judd jitter, s-AUC negatives) all three
  share, so that their results can be compared number for number.
- :mod:`avsal.metric_names`: the metric names, the one list (no torch import).

The engine's parts (:mod:`~avsal.metrics.inputs`, :mod:`~avsal.metrics.draws`,
:mod:`~avsal.metrics.chunk`, :mod:`~avsal.metrics.auc`, :mod:`~avsal.metrics.moments`) are
internal; use :func:`score_video`.
"""

from avsal.metric_names import METRICS, PAPER_METRICS
from avsal.metrics.engine import score_video
from avsal.metrics.frame import auc_judd, auc_shuffled, cc, kld, nss, sim
from avsal.metrics.protocol import (
    Evaluation,
    ProtocolConfig,
    VideoInput,
    evaluate,
    evaluate_video,
    preprocess,
    summarise,
)
from avsal.metrics.streams import jitter_noise, metric_rng, sample_subsets

__all__ = [
    "METRICS",
    "PAPER_METRICS",
    "Evaluation",
    "ProtocolConfig",
    "VideoInput",
    "auc_judd",
    "auc_shuffled",
    "cc",
    "evaluate",
    "evaluate_video",
    "jitter_noise",
    "kld",
    "metric_rng",
    "nss",
    "preprocess",
    "sample_subsets",
    "score_video",
    "sim",
    "summarise",
]
