"""The MLflow side of a campaign: one parent run per study, one child run per trial."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import optuna

from avsal.config import Config
from avsal.tuning.study import ATTR_CREATED, ATTR_PARENT

__all__ = ["Tracking"]


class Tracking:
    """The study's MLflow runs: a parent per study, a child per trial (no-op when disabled)."""

    def __init__(self, cfg: Config, enabled: bool) -> None:
        from avsal.tracking import Tracker, find_repo_root

        try:
            root = find_repo_root()
        except FileNotFoundError:
            root = Path.cwd()
        self.enabled = enabled
        self.tracker = Tracker(
            experiment=cfg.project.name,
            repo_root=root,
            stage="tune",
            enabled=enabled,
            mlflow_db=cfg.paths.mlflow_db,
            mlflow_artifacts=cfg.paths.mlflow_artifacts,
        )

    def handle(self, run_id: str) -> Any:
        from avsal.tracking import RunHandle

        return RunHandle(
            run_id=run_id,
            experiment_id=str(self.tracker.experiment_id),
            tracking_uri=str(self.tracker.tracking_uri),
        )

    @contextlib.contextmanager
    def parent(
        self,
        study: optuna.Study,
        storage: Any,
        *,
        created: bool,
        params: dict[str, Any],
        tags: dict[str, Any],
    ) -> Iterator[Any]:
        """The study's one parent run: made by the process that created the study (others wait
        for its id in the study's user attrs), reopened by every later campaign on the study."""
        if not self.enabled:
            from avsal.tracking import NullRunHandle

            yield NullRunHandle()
            return
        run_id = study.user_attrs.get(ATTR_PARENT)
        if run_id is None and not created:
            born = float(study.user_attrs.get(ATTR_CREATED, 0))
            while run_id is None and time.time() - born < 120:  # its creator is making it now
                time.sleep(1.0)
                run_id = optuna.load_study(
                    study_name=study.study_name, storage=storage
                ).user_attrs.get(ATTR_PARENT)
        if run_id is None:
            with self.tracker.run(f"tune:{study.study_name}", params=params, tags=tags) as h:
                study.set_user_attr(ATTR_PARENT, h.run_id)
                yield h
            return
        with self.tracker.reopen_run(run_id) as h:
            yield h

    def child(
        self, *, name: str, params: dict[str, Any], tags: dict[str, Any], parent_run_id: str | None
    ) -> Any:
        return self.tracker.run(name, params=params, tags=tags, parent_run_id=parent_run_id)

    def mark_failed(self, run_id: str | None, reason: str) -> None:
        if not (self.enabled and run_id):
            return
        with contextlib.suppress(Exception):
            h = self.handle(run_id)
            h.set_tags({"avsal.tune.state": "FAIL", "avsal.tune.error": reason})
            h.client.set_terminated(run_id, status="FAILED")
