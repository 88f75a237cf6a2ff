"""The names of the saliency metrics: the one list that the engine, the protocol and the config
checks share.  A top-level module, outside :mod:`avsal.metrics`: the config checks names at load
time without importing torch or the metrics engine (nor making every stage depend on it)."""

#: every metric the engine computes, in report order
METRICS = ("auc_judd", "sim", "auc_shuffled", "cc", "nss", "kld")
#: the five the paper reports (Table 4)
PAPER_METRICS = ("auc_judd", "sim", "auc_shuffled", "cc", "nss")
#: metrics computed against the continuous GT map (the others use the fixation points)
MAP_METRICS = frozenset({"cc", "sim", "kld"})

__all__ = ["METRICS", "PAPER_METRICS", "MAP_METRICS"]
