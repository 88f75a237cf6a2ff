"""The pipeline run as DVC experiments: replicate seeds queued, run side by side, collected."""

from avsal.experiments.replicates import (
    collect,
    params_key,
    queue_replicates,
    read_replicates,
    replicate_seeds,
    run_queue,
    write_replicates,
)

__all__ = [
    "collect",
    "params_key",
    "queue_replicates",
    "read_replicates",
    "replicate_seeds",
    "run_queue",
    "write_replicates",
]
