"""What every thin stage CLI in pipelines/ shares: flags, params, CPU numerics, one-line errors.

A stage script imports its stage module inside its ``main`` (after :func:`run_stage` has set the
CPU numerics, which must happen before torch runs), so it loads only the code it runs; this file
imports nothing that pulls in torch or another stage.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable
from typing import Any

from avsal.config import Config, load_config, parse_overrides
from avsal.errors import AvsalError
from avsal.utils.memory import keep_freed_memory

#: env var naming a folder: each stage writes there the avsal modules it loaded (the deps test)
RECORD_MODULES_ENV = "AVSAL_RECORD_MODULES"
#: env var naming a folder: each stage writes there its wall time and peak memory (benchmarks)
RECORD_RESOURCES_ENV = "AVSAL_RECORD_RESOURCES"

Main = Callable[[argparse.Namespace, Config], dict[str, Any]]


def _parser(
    description: str, add: Callable[[argparse.ArgumentParser], None] | None
) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--params", default="params.yaml", help="params file (default: params.yaml)"
    )
    parser.add_argument(
        "-S", "--set", action="append", default=[], metavar="KEY=VALUE", help="override a param"
    )
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="debug logs, and the traceback of a failure"
    )
    parser.add_argument(
        "--no-mlflow",
        action="store_true",
        help="run without an MLflow run (tuning trials run stages so)",
    )
    if add is not None:
        add(parser)
    return parser


def _fail(prog: str, exc: BaseException, verbose: bool) -> None:
    """One line naming what failed and why (the traceback only with -v); exit 1."""
    if verbose:
        raise exc
    print(f"{prog}: {type(exc).__name__}: {exc}  (-v shows the traceback)", file=sys.stderr)
    sys.exit(1)


def _record_modules(stage: str) -> None:
    folder = os.environ.get(RECORD_MODULES_ENV)
    if not folder:
        return
    mods = sorted(name for name in sys.modules if name == "avsal" or name.startswith("avsal."))
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, f"{stage}.json"), "w") as fh:
        json.dump({"stage": stage, "modules": mods}, fh, indent=1)


def _record_resources(stage: str, sampler: Any) -> None:
    folder = os.environ.get(RECORD_RESOURCES_ENV)
    if not folder or sampler is None:
        return
    os.makedirs(folder, exist_ok=True)
    record = {"stage": stage, "seconds": sampler.seconds, **sampler.peak}
    torch = sys.modules.get("torch")  # a stage that ran on a GPU: its peak GPU memory too
    if torch is not None and torch.cuda.is_initialized():
        record["cuda_peak_mib"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
    name = stage.replace("@", "_")
    with open(os.path.join(folder, f"{name}.json"), "w") as fh:
        json.dump(record, fh, indent=1)


def parse(module: Any, argv: list[str]) -> argparse.Namespace:
    """A stage script's flags (its ``_flags``, if any) parsed from ``argv``."""
    return _parser(module.__doc__ or "", getattr(module, "_flags", None)).parse_args(argv)


def call(module: Any, argv: list[str], cfg: Config) -> dict[str, Any]:
    """Run a stage script's ``main`` in this process with ``cfg`` and the flags of its dvc.yaml
    ``cmd`` (how tuning trials run the stages of dvc.yaml without a process per stage)."""
    return module.main(parse(module, argv), cfg)


def run_stage(
    description: str, main: Main, add: Callable[[argparse.ArgumentParser], None] | None = None
) -> None:
    """Parse flags, load params, set CPU numerics, run ``main(args, cfg)`` and print its metrics.

    Known failures (:class:`~avsal.errors.AvsalError`: config, validation, decode, tracking
    store; and missing files) print one line and exit 1, which stops ``dvc repro``.
    """
    parser = _parser(description, add)
    args = parser.parse_args()
    prog = os.environ.get("DVC_STAGE") or parser.prog
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    keep_freed_memory()  # big per-step tensors: reuse freed memory instead of page-faulting
    sampler = None
    if os.environ.get(RECORD_RESOURCES_ENV):
        from avsal.utils.resources import PeakSampler

        sampler = PeakSampler()
    try:
        cfg = load_config(args.params, parse_overrides(args.set))
        from avsal.utils import numerics

        numerics.apply(cfg.runtime.cpu_numerics, threads=cfg.runtime.cpu_threads)
        if sampler is None:
            result = main(args, cfg)
        else:
            with sampler:
                result = main(args, cfg)
    except (AvsalError, FileNotFoundError) as exc:
        _fail(prog, exc, args.verbose)
    _record_modules(prog)
    _record_resources(prog, sampler)
    shown = {
        k: v for k, v in result.items() if k != "history"
    }  # per-epoch histories stay in the report files
    json.dump(shown, sys.stdout, indent=1, default=str)
    sys.stdout.write("\n")
