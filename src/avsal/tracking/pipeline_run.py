"""One parent MLflow run per pipeline execution; every stage run of that execution is its child.

Why: a ``dvc repro`` makes a dozen stage runs; in a flat table they are a long list after a few
experiments. Grouped under a parent named after the DVC experiment (or the git commit), comparing
two experiments in the UI is selecting two parent rows. The parent is keyed by the pipeline id
(``avsal.pipeline_id``, the same for every stage process of one ``dvc repro``/``dvc exp run``):
the first stage creates it, the others find it. Creation is serialised on sqlite stores by the
same folder lock as experiment creation, so two stages can never make two parents.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from avsal.tracking import store
from avsal.tracking.params import BATCH_SIZE, batched, flatten_params
from avsal.tracking.provenance import (
    TAG_DVC_EXP_NAME,
    TAG_DVC_STAGE,
    TAG_GIT_COMMIT,
    TAG_GIT_DIRTY,
    TAG_PIPELINE_ID,
)

__all__ = [
    "RUN_KIND_PIPELINE",
    "RUN_KIND_STAGE",
    "TAG_RUN_KIND",
    "pipeline_run_name",
    "pipeline_run",
]

TAG_RUN_KIND = "avsal.run_kind"
RUN_KIND_PIPELINE = "pipeline"
RUN_KIND_STAGE = "stage"


def pipeline_run_name(tags: Mapping[str, str]) -> str:
    """The DVC experiment's name, else the short commit (``+dirty`` when the tree was dirty)."""
    if tags.get(TAG_DVC_EXP_NAME):
        return str(tags[TAG_DVC_EXP_NAME])
    commit = str(tags.get(TAG_GIT_COMMIT, "unknown"))
    name = commit[:8] if commit != "unknown" else f"pipeline-{tags.get(TAG_PIPELINE_ID, '')[:8]}"
    return f"{name}+dirty" if tags.get(TAG_GIT_DIRTY) == "true" else name


def pipeline_run(
    client: Any,
    *,
    experiment_id: str,
    uri: str,
    tags: Mapping[str, str],
    params: Mapping[str, Any] | None,
) -> str:
    """Run id of this pipeline's parent run, created (with ``tags`` and ``params``) if new.

    ``tags`` are the first stage's provenance tags; the parent keeps those all stages share.
    """
    pid = tags[TAG_PIPELINE_ID]
    query = f"tags.`{TAG_PIPELINE_ID}` = '{pid}' and tags.`{TAG_RUN_KIND}` = '{RUN_KIND_PIPELINE}'"
    with store._sqlite_init_lock(uri):
        found = client.search_runs([experiment_id], filter_string=query, max_results=1)
        if found:
            return str(found[0].info.run_id)
        keep = {  # what all stages of the pipeline share: not one stage's name and deps
            k: v
            for k, v in tags.items()
            if not k.startswith("avsal.dvc.dep") and k != TAG_DVC_STAGE
        }
        run = client.create_run(
            experiment_id,
            run_name=pipeline_run_name(tags),
            tags={**keep, TAG_RUN_KIND: RUN_KIND_PIPELINE},
        )
    run_id = str(run.info.run_id)
    if params:
        from mlflow.entities import Param

        items = [Param(k, v) for k, v in flatten_params(params).items()]
        for batch in batched(items, BATCH_SIZE):
            client.log_batch(run_id, params=batch)
    return run_id
