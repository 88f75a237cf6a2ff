"""The ``avsal`` command: one subcommand per user task; each calls a stage's ``run``."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from avsal.utils.memory import keep_freed_memory

__all__ = ["main", "build_parser"]


def _load(args: argparse.Namespace):
    """The typed config, with the process's CPU numerics set from it (before torch runs)."""
    from avsal.config import load_config, parse_overrides
    from avsal.utils import numerics

    cfg = load_config(args.params, parse_overrides(args.set or []))
    numerics.apply(cfg.runtime.cpu_numerics, threads=cfg.runtime.cpu_threads)
    return cfg


def _cmd_synth(args: argparse.Namespace) -> dict[str, Any]:
    from avsal.stages.data import synth

    return synth(_load(args), out=args.out, seed=args.seed, force=args.force, workers=args.workers)


def _cmd_data(args: argparse.Namespace) -> dict[str, Any]:
    from avsal.stages.data import fetch

    return fetch(_load(args), force=args.force)


def _cmd_use_real(args: argparse.Namespace) -> dict[str, Any]:
    from avsal.stages.data import use_real_data

    return use_real_data(_load(args), ave=args.ave, fixations=args.fixations, remote=args.remote)


def _cmd_validate_raw(args: argparse.Namespace) -> dict[str, Any]:
    from avsal.stages.validate_raw import run

    return run(
        _load(args),
        report_path=args.report,
        ave_root=args.ave_root,
        fixation_root=args.fixation_root,
        sets=args.sets,
        lists_only=args.lists_only,
    )


def _cmd_probe(args: argparse.Namespace) -> dict[str, Any]:
    from avsal.data.video import decode_clip

    clip = decode_clip(args.video, fps=args.fps, audio_rate=args.audio_rate)
    return {
        "video": args.video,
        "duration_s": round(clip.info.duration, 3),
        "native_fps": round(clip.info.native_fps, 3),
        "size": [clip.info.height, clip.info.width],
        "frames_at_fps": int(clip.frames.shape[0]),
        "audio_samples": int(clip.audio.shape[0]),
        "audio_seconds": round(clip.audio.shape[0] / args.audio_rate, 3),
    }


def _cmd_exp_run(args: argparse.Namespace) -> dict[str, Any]:
    import shlex
    import subprocess

    from avsal.config import load_profile, profile_overrides

    load_profile(args.params, args.profile)  # validate before handing it to dvc
    cmd = ["dvc", "exp", "run"]
    for item in profile_overrides(args.profile):
        cmd += ["-S", item]
    cmd += list(args.dvc_args or [])
    print(shlex.join(cmd), file=sys.stderr)
    if args.dry_run:
        return {"command": cmd}
    rc = subprocess.run(cmd).returncode
    if rc:
        raise RuntimeError(f"dvc exp run exited with {rc}")
    return {"command": cmd, "returncode": rc}


def _cmd_replicates(args: argparse.Namespace) -> dict[str, Any]:
    import subprocess

    from avsal.experiments import (
        collect,
        queue_replicates,
        replicate_seeds,
        run_queue,
        write_replicates,
    )
    from avsal.stages.artifacts import Paths

    cfg = _load(args)
    root = Path.cwd()
    out: dict[str, Any] = {}
    if not args.collect_only:
        seeds = replicate_seeds(cfg.project.seed, args.n)
        out["queued"] = queue_replicates(seeds, root=root)
        out["queue"] = run_queue(root=root, jobs=args.jobs)
        if out["queue"].get("Failed"):
            print(
                "replicates: some experiments failed; `dvc queue logs <name>` shows why",
                file=sys.stderr,
            )
    records = collect(cfg, root=root, params_file=args.params)
    path = write_replicates(records, Paths(cfg).report("replicate_videos.csv"))
    out["collected_seeds"] = sorted(int(s) for s in records["seed"].unique())
    out["file"] = str(path)
    if not args.no_repro:  # fold them in: the claims stage depends on the file
        rc = subprocess.run(["dvc", "repro", "report"], cwd=root).returncode
        if rc:
            raise RuntimeError(f"dvc repro report exited with {rc}")
    return out


def _cmd_tune(args: argparse.Namespace) -> dict[str, Any]:
    from avsal.tuning import run_campaign, run_worker

    cfg = _load(args)
    if args.worker:
        return run_worker(
            cfg,
            study=args.study,
            trials=args.trials,
            storage=args.storage,
            index=args.worker_index,
            threads=args.threads,
            track=not args.no_mlflow,
        )
    try:  # Ctrl-C stops the campaign (exit 130); the same command resumes it
        return run_campaign(
            cfg,
            study=args.study,
            trials=args.trials,
            workers=args.workers,
            storage=args.storage,
            track=not args.no_mlflow,
            report=not args.no_reporting_score,
        )
    except KeyboardInterrupt:
        raise SystemExit(130) from None


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="avsal",
        description=(
            "avsal: weakly-supervised audio-visual fixation prediction (STANet, CVPR 2021) as a "
            "reproducible pipeline. The full pipeline runs with `dvc repro`; these subcommands "
            "run single steps. Every subcommand reads params.yaml (override keys with -S)."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Examples:\n  avsal synth --out data --force\n  avsal validate-raw\n  avsal probe clip.mp4 --fps 8",
    )
    p.add_argument("--params", default="params.yaml", help="params file (default: params.yaml)")
    p.add_argument(
        "-S",
        "--set",
        action="append",
        metavar="KEY=VALUE",
        help="override a param, e.g. -S synth.seed=3",
    )
    p.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    s = sub.add_parser(
        "synth",
        help="write the synthetic world in the real AVE/STAViS layouts",
        description="Generate the deterministic synthetic world (AVE-like clips and six fixation sets) in the real on-disk layouts.",
    )
    s.add_argument("--out", default=None, help="output folder (default: paths.data)")
    s.add_argument("--seed", type=int, default=None, help="world seed (default: synth.seed)")
    s.add_argument("--force", action="store_true", help="replace an existing folder")
    s.add_argument(
        "--workers",
        type=int,
        default=None,
        help="processes rendering in parallel (default: the cores; the bytes do not depend on it)",
    )
    s.set_defaults(func=_cmd_synth)

    s = sub.add_parser(
        "data",
        help="get the raw data: dvc pull if a remote exists, else the synthetic world",
        description=(
            "`dvc pull data.dvc` when a DVC remote is configured; otherwise generate the "
            "synthetic world (bytes equal to what data.dvc records)."
        ),
    )
    s.add_argument("--force", action="store_true", help="regenerate even if data/ exists")
    s.set_defaults(func=_cmd_data)

    s = sub.add_parser(
        "use-real-data",
        help="swap in the real AVE + STAViS datasets and push them to your DVC remote",
        description=(
            "Copy the real AVE_Dataset folder and the STAViS fixation folders into data/, `dvc "
            "add` it, and (with --remote) push it to your DVC remote."
        ),
    )
    s.add_argument(
        "--ave", required=True, help="path of AVE_Dataset/ (Annotations.txt, *Set.txt, AVE/*.mp4)"
    )
    s.add_argument(
        "--fixations",
        required=True,
        help="folder with video_frames/, video_audio/, annotations/, fold_lists/",
    )
    s.add_argument(
        "--remote",
        default=None,
        help="DVC remote URL to push to (s3://..., gs://..., ssh://..., /path)",
    )
    s.set_defaults(func=_cmd_use_real)

    s = sub.add_parser(
        "validate-raw",
        help="great-expectations suites over the raw data",
        description=(
            "Validate AVE metadata, the clips (fps, duration, audio) and the fixation sets. "
            "Writes reports/validation_raw.json; exits 1 with a readable list of failures."
        ),
    )
    s.add_argument(
        "--report",
        default=None,
        help="JSON report path (default: <paths.reports>/validation_raw.json)",
    )
    s.add_argument("--ave-root", default=None, help="AVE_Dataset folder (default: paths.ave_root)")
    s.add_argument(
        "--fixation-root", default=None, help="fixation-set root (default: paths.fixation_root)"
    )
    s.add_argument(
        "--sets", nargs="*", default=None, help="fixation sets to check (default: all six)"
    )
    s.add_argument(
        "--lists-only", action="store_true", help="check only the fold lists of the fixation sets"
    )
    s.set_defaults(func=_cmd_validate_raw)

    s = sub.add_parser(
        "exp-run",
        help="run the pipeline as a DVC experiment with a profile (e.g. the paper's)",
        description=(
            "`dvc exp run -S key=value ...` with every key of a profile file "
            "(profiles/paper.yaml: VGG16, 256/356 px, SGD lr 1e-3, the paper's batch sizes). "
            "Extra arguments after -- go to dvc."
        ),
    )
    s.add_argument("--profile", required=True, help="profile file, e.g. profiles/paper.yaml")
    s.add_argument("--dry-run", action="store_true", help="print the dvc command only")
    s.add_argument(
        "dvc_args", nargs=argparse.REMAINDER, help="extra arguments for dvc exp run (after --)"
    )
    s.set_defaults(func=_cmd_exp_run)

    s = sub.add_parser(
        "replicates",
        help="run the pipeline for N more seeds as DVC experiments and fold them into the claims",
        description=(
            "Queue N DVC experiments that differ only in project.seed "
            "(`dvc exp run --queue -S project.seed=<s>`), run them with `dvc queue start -j JOBS`, "
            "collect each one's per-video claim evidence from its experiment commit into "
            "reports/replicate_videos.csv, and `dvc repro report`: the claims' intervals then "
            "resample seeds as well as videos. Commit the workspace first (experiments start "
            "from HEAD). Every stage runs with runtime.cpu_threads threads, so JOBS x threads "
            "should not exceed the cores."
        ),
    )
    s.add_argument("--n", type=int, default=5, help="replicate seeds to run (default 5)")
    s.add_argument("--jobs", type=int, default=1, help="experiments at once (default 1)")
    s.add_argument("--collect-only", action="store_true", help="only collect finished experiments")
    s.add_argument("--no-repro", action="store_true", help="do not run `dvc repro report` after")
    s.set_defaults(func=_cmd_replicates)

    s = sub.add_parser(
        "probe",
        help="decode one video and report frames/audio at a given fps",
        description="Decode a video with the project's reader (frames at --fps, audio at 16 kHz mono) and print what came out.",
    )
    s.add_argument("video")
    s.add_argument("--fps", type=float, default=8.0)
    s.add_argument("--audio-rate", type=int, default=16000)
    s.set_defaults(func=_cmd_probe)

    s = sub.add_parser(
        "tune",
        help="an Optuna campaign over tune.space, scored on the tuning split (make tune)",
        description="Search tune.space of params.yaml (SCAM threshold multiplier, lambda, fusion rule, pseudo-GT "
        "post-processing, evaluation blur, learning rates) for the best fixation score on the tuning split "
        "(tune.split, disjoint from the reporting split evaluate.fold). Workers share one Optuna study; "
        "rerun the same command to resume. Writes <reports>/tune/<study>/best_params.yaml (for dvc exp run -S), "
        "history.png, importances.png, summary.json; MLflow: a parent run per study, a child run per trial.",
    )
    s.add_argument("--study", required=True, help="study name (rerun with the same name to resume)")
    s.add_argument(
        "--trials",
        type=int,
        required=True,
        help="budget: finished (complete or pruned) trials of the study, all workers together",
    )
    s.add_argument(
        "--workers", type=int, default=1, help="worker processes on this machine (default 1)"
    )
    s.add_argument(
        "--storage",
        default=None,
        help="Optuna storage (default: tune.storage, else sqlite:///<artifacts>/tune/optuna.db); "
        "journal:<file>, or postgresql://user:pass@host/db to share a study between machines",
    )
    s.add_argument("--no-mlflow", action="store_true", help="do not log runs to MLflow")
    s.add_argument(
        "--no-reporting-score",
        action="store_true",
        help="skip scoring the best and default params on the reporting split",
    )
    s.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    s.add_argument("--worker-index", type=int, default=0, help=argparse.SUPPRESS)
    s.add_argument("--threads", type=int, default=1, help=argparse.SUPPRESS)
    s.set_defaults(func=_cmd_tune)

    from avsal.cli_tools import add_tool_commands

    add_tool_commands(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    keep_freed_memory()  # big per-step tensors: reuse freed memory instead of page-faulting
    from avsal.config import ConfigError

    try:
        result = args.func(args)
    except ConfigError as exc:
        print(f"avsal: config error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # one readable line for the user; -v shows the traceback
        if args.verbose:
            raise
        print(f"avsal {args.command}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    if result is not None:
        print(json.dumps(result, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
