"""Stage validate_pseudo: great-expectations suite over every pseudo-GT set before STA trains."""

from __future__ import annotations

from typing import Any

from avsal.config import Config
from avsal.errors import ValidationFailed
from avsal.stages import artifacts
from avsal.stages.artifacts import Paths
from avsal.utils.io import atomic_write_json
from avsal.validation.pseudo import validate_pseudo

__all__ = ["run"]


def run(cfg: Config, *, raise_on_failure: bool = True) -> dict[str, Any]:
    size = artifacts.prepared(cfg, "ave").frame_size
    results = [
        validate_pseudo(
            Paths(cfg).pseudo(s),
            expected_size=size,
            name=f"pseudo_{s}",
            min_informative=cfg.validation.min_informative_pseudo,
        )
        for s in ("coarse", "fine")
    ]
    ok = all(r.success for r in results)
    path = Paths(cfg).report("validation_pseudo.json")
    lines = [line for r in results for line in r.describe()]
    atomic_write_json(
        path, {"success": ok, "suites": [r.to_dict() for r in results], "summary": lines}
    )
    if not ok and raise_on_failure:
        raise ValidationFailed(f"pseudo-GT validation failed ({path}):\n  " + "\n  ".join(lines))
    return {"success": ok, "maps": {r.suite: r.n_records for r in results}, "report": str(path)}
