"""Suite for pseudo-GT sets: every map finite, in [0, 1], not empty, not constant, right size."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from avsal.validation.gx import Check, SuiteResult, run_suite

__all__ = ["pseudo_records", "validate_pseudo"]


def pseudo_records(
    maps: Any, refs: Sequence[tuple[str, int]], *, expected_size: tuple[int, int], where: str
) -> pd.DataFrame:
    """One row per pseudo-GT map (statistics only; ``maps[k]`` is read one map at a time)."""
    rows = []
    for k, (clip, frame) in enumerate(refs):
        m = np.asarray(maps[k], np.float32)
        finite = bool(np.isfinite(m).all())
        mm = m[np.isfinite(m)] if not finite else m
        rows.append(
            {
                "finite": finite,
                "min": float(mm.min()) if mm.size else np.nan,
                "max": float(mm.max()) if mm.size else np.nan,
                "range": float(mm.max() - mm.min()) if mm.size else 0.0,
                "size_ok": tuple(m.shape) == tuple(expected_size),
                "where": f"{where} row {k} ({clip} frame {frame})",
            }
        )
    return pd.DataFrame(rows)


def validate_pseudo(
    folder: str | Path, *, expected_size: tuple[int, int], name: str, min_informative: float = 0.5
) -> SuiteResult:
    """Run the pseudo-GT suite on a map store folder (``maps.npy`` + ``refs.json``).

    Maps flagged uninformative by the SCAM stage (no net's top-1 is the tag) are not pseudo
    fixations and are skipped, but at least ``min_informative`` of the frames must be informative.
    """
    from avsal.data.datasets import MapStore, RowView

    store = MapStore.load(folder)
    flags = np.asarray(store.extra.get("informative", np.ones(len(store.refs), bool)), bool)
    keep = np.flatnonzero(flags)
    df = pseudo_records(
        RowView(store.maps, keep),  # read map by map, not a copy of every informative map
        [store.refs[k] for k in keep],
        expected_size=expected_size,
        where=str(Path(folder) / "maps.npy"),
    )
    df["informative_fraction"] = float(flags.mean()) if len(flags) else 0.0
    checks = [
        Check(
            "ExpectColumnValuesToBeBetween",
            {"column": "informative_fraction", "min_value": min_informative},
            f"fewer than {min_informative:.0%} of the frames have an informative pseudo-GT map",
        ),
        Check(
            "ExpectColumnValuesToBeInSet",
            {"column": "finite", "value_set": [True]},
            "map has NaN or Inf",
        ),
        Check(
            "ExpectColumnValuesToBeBetween",
            {"column": "min", "min_value": 0.0},
            "map value below 0",
        ),
        Check(
            "ExpectColumnValuesToBeBetween",
            {"column": "max", "max_value": 1.0},
            "map value above 1",
        ),
        Check(
            "ExpectColumnValuesToBeBetween",
            {"column": "max", "min_value": 1e-3},
            "empty (all-zero) map",
        ),
        Check(
            "ExpectColumnValuesToBeBetween", {"column": "range", "min_value": 1e-3}, "constant map"
        ),
        Check(
            "ExpectColumnValuesToBeInSet",
            {"column": "size_ok", "value_set": [True]},
            f"map size differs from the frames {tuple(expected_size)}",
        ),
    ]
    return run_suite(name, df, checks)
