"""The one place that imports great_expectations: run an in-code suite on a DataFrame.

GX 1.x with an ephemeral context (nothing written to disk), analytics and progress bars off.
Every record carries a ``where`` column (file, line or frame) so a failure can say exactly
which file broke which expectation.
"""

from __future__ import annotations

import logging
import os
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from typing import Any

import pandas as pd

__all__ = ["Check", "SuiteResult", "run_suite"]

os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")


@dataclass(frozen=True)
class Check:
    """One expectation, in our own words: a GX expectation class name plus its kwargs."""

    expectation: str  # e.g. "ExpectColumnValuesToBeBetween"
    kwargs: dict[str, Any]
    why: str  # shown to the user when it fails


@dataclass
class SuiteResult:
    suite: str
    success: bool
    n_records: int
    failures: list[dict[str, Any]] = field(default_factory=list)
    checks: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def describe(self) -> list[str]:
        """Readable failure lines: what failed and where."""
        lines = []
        for f in self.failures:
            where = ", ".join(map(str, f["where"][:5]))
            more = f" (+{f['unexpected_count'] - 5} more)" if f["unexpected_count"] > 5 else ""
            lines.append(
                f"[{self.suite}] {f['why']}: {f['unexpected_count']} bad record(s) at {where}{more}"
            )
        return lines


@lru_cache(maxsize=1)
def _context():
    logging.getLogger("great_expectations").setLevel(logging.ERROR)
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    ctx = gx.get_context(mode="ephemeral")
    ctx.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    return ctx


def run_suite(name: str, df: pd.DataFrame, checks: list[Check]) -> SuiteResult:
    """Validate ``df`` (which must have a ``where`` column) against ``checks``."""
    import great_expectations as gx

    if df.empty:
        return SuiteResult(
            suite=name,
            success=False,
            n_records=0,
            failures=[
                {
                    "why": "no records to validate",
                    "expectation": "non-empty",
                    "unexpected_count": 1,
                    "where": ["<none>"],
                    "unexpected": [],
                }
            ],
        )
    if "where" not in df.columns:
        raise ValueError(f"suite {name}: records need a 'where' column")
    ctx = _context()
    df = df.reset_index(drop=True)
    uid = f"{name}-{id(df)}"
    asset = ctx.data_sources.add_pandas(f"ds-{uid}").add_dataframe_asset(f"asset-{uid}")
    batch_def = asset.add_batch_definition_whole_dataframe("all")
    suite = ctx.suites.add(gx.ExpectationSuite(name=f"suite-{uid}"))
    for c in checks:
        suite.add_expectation(getattr(gx.expectations, c.expectation)(**c.kwargs))
    vd = ctx.validation_definitions.add(
        gx.ValidationDefinition(name=f"vd-{uid}", data=batch_def, suite=suite)
    )
    res = vd.run(batch_parameters={"dataframe": df}, result_format="COMPLETE")
    out = SuiteResult(suite=name, success=bool(res.success), n_records=len(df))
    for check, r in zip(checks, res.results):
        info = {
            "expectation": check.expectation,
            "kwargs": _jsonable(check.kwargs),
            "why": check.why,
            "success": bool(r.success),
        }
        out.checks.append(info)
        if r.success:
            continue
        idx = r.result.get("unexpected_index_list") or []
        rows = [i for i in idx if isinstance(i, int)] or list(range(len(df)))
        count = int(r.result.get("unexpected_count") or len(idx) or 0)
        if r.exception_info and r.exception_info.get("raised_exception"):
            msg = r.exception_info.get("exception_message")
            out.failures.append(
                {
                    **info,
                    "unexpected_count": max(count, 1),
                    "where": [f"<GX error: {msg}>"],
                    "unexpected": [],
                }
            )
            continue
        out.failures.append(
            {
                **info,
                "unexpected_count": count or len(rows),
                "where": [str(df.loc[i, "where"]) for i in rows[:50]],
                "unexpected": _jsonable((r.result.get("unexpected_list") or [])[:50]),
                "observed": _jsonable(r.result.get("observed_value")),
            }
        )
    return out


def _jsonable(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple, set)):
        return [_jsonable(v) for v in x]
    if hasattr(x, "item"):
        return x.item()
    if isinstance(x, (str, int, float, bool)) or x is None:
        return x
    return str(x)
