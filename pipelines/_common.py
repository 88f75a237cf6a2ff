"""Shared argument parsing for the thin stage CLIs in pipelines/ (dvc.yaml calls them)."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable
from typing import Any

from avsal.cli import parse_overrides
from avsal.config import Config, load_config
from avsal.utils.memory import keep_freed_memory


def stage_args(description: str, add: Callable[[argparse.ArgumentParser], None] | None = None) -> tuple[argparse.Namespace, Config]:
    """Parse ``--params``/``-S`` (plus the stage's own flags) and load the typed config."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--params", default="params.yaml", help="params file (default: params.yaml)")
    parser.add_argument("-S", "--set", action="append", default=[], metavar="KEY=VALUE", help="override a param")
    if add is not None:
        add(parser)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    keep_freed_memory()  # big per-step tensors: reuse freed memory instead of page-faulting
    return args, load_config(args.params, parse_overrides(args.set))


def report(metrics: dict[str, Any]) -> None:
    """Print a stage's metrics as JSON on stdout (per-epoch histories stay in the report files)."""
    shown = {k: v for k, v in metrics.items() if k != "history"}
    json.dump(shown, sys.stdout, indent=1, default=str)
    sys.stdout.write("\n")


def report_or_exit(run: Callable[[], dict[str, Any]]) -> None:
    """Report a validation stage's metrics, or print its failures and exit 1 (stops dvc repro)."""
    from avsal.stages.validate_raw import ValidationFailed

    try:
        report(run())
    except ValidationFailed as exc:
        print(exc, file=sys.stderr)
        sys.exit(1)
