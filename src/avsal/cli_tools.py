"""The ``avsal`` subcommands for people who do not run the pipeline: ``score`` and ``predict``."""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["add_tool_commands"]

_SCORE_HELP = """\
Score saliency maps produced by any method against the fixation sets, with the STAViS/MIT
protocol the pipeline's evaluate stage uses (same code: the pipeline's own predictions scored
here give reports/evaluate.json's numbers).

Layouts of MAPS_DIR:
  MAPS_DIR/<SET>/<video>/<anything>_%05d.{png,jpg,npy}   frame numbers as in video_frames (1-based)
  MAPS_DIR/<SET>/maps.npy + refs.json                     the pipeline's prediction folders
                                                          (e.g. artifacts/predictions/sta)
Maps of any size and dtype are min-max normalised, resized to the annotation size and blurred
(sigma in GT pixels). A frame whose map holds NaN/Inf is dropped from every metric and counted
in run.json; a constant map scores chance (AUCs 0.5, CC/NSS 0, SIM/KLD as a uniform map).

Writes OUT/frames.csv (per frame), videos.json, sets.json (per set: mean over videos of the
per-video frame means), table.md (beside the paper's Table 4 rows) and run.json.

Examples:
  avsal score artifacts/predictions/sta --split reporting
  avsal score ~/maps/ACLNet --sets AVAD DIEM --pattern 'pred_%05d.png' --out scores/aclnet
"""


def _cmd_score(args: argparse.Namespace) -> dict[str, Any]:
    from pathlib import Path

    from avsal.cli import _load
    from avsal.scoring.tool import score_maps

    overrides = {
        "evaluate.blur_sigma": args.blur_sigma,
        "evaluate.s_auc_splits": args.s_auc_splits,
        "evaluate.s_auc_step": args.s_auc_step,
        "evaluate.seed": args.seed,
    }
    args.set = list(args.set or []) + [f"{k}={v}" for k, v in overrides.items() if v is not None]
    cfg = _load(args)
    out = args.out or str(Path("scores") / Path(args.maps_dir).resolve().name)
    return score_maps(
        cfg,
        args.maps_dir,
        out=out,
        sets=args.sets,
        split=args.split,
        metrics=tuple(args.metrics) if args.metrics else None,
        pattern=args.pattern,
        allow_missing=args.allow_missing,
        name=args.name,
    )


_PREDICT_HELP = """\
Predict fixation maps for any video with a trained STA net.

MODEL is a state_dict file of the STA net (artifacts/models/sta/sta.pt); the net is built
from --params (the params it was trained with) and must load strictly.
VIDEO is an mp4 (any size and frame rate; frames are taken at the model's fps, prepare.fps of
its params) or a STAViS frames folder (img_%05d.jpg, with --fps and its wav beside or --wav).

Writes OUT/<video>/map_%05d.npy (float16), png/map_%05d.png, overlay.mp4 (heat map over the
frames, with the audio) and predict.json (what ran, timings). OUT is a set folder that
`avsal score` reads. A video without audio is an error unless --no-audio (the audio switch is
then closed: switch_prob 0, recorded in predict.json).

Examples:
  avsal predict clip.mp4 --model artifacts/models/sta/sta.pt --out predictions
  avsal predict clip.mp4 --model artifacts/models/sta/sta_noswitch.pt --no-audio
  avsal predict clip.mp4 --model models:/avsal-sta/3      # a registered version (or runs:/<id>/model)
"""


def _cmd_predict(args: argparse.Namespace) -> dict[str, Any]:
    from avsal.cli import _load
    from avsal.inference import load_model, predict_video

    cfg = _load(args)
    model = load_model(args.model, cfg)
    done = [
        predict_video(
            model, video, out=args.out, fps=args.fps, wav=args.wav, no_audio=args.no_audio,
            device=args.device, overlay=not args.no_overlay,
        )
        for video in args.videos
    ]  # fmt: skip
    return {
        "videos": [{k: d[k] for k in ("out", "frames", "fps", "audio", "seconds")} for d in done]
    }


def _cmd_dashboard(args: argparse.Namespace) -> None:
    from avsal.cli import _load
    from avsal.tuning.dashboard import serve_dashboard

    serve_dashboard(_load(args), storage=args.storage, study=args.study, port=args.port)


_SANDBOX_HELP = """\
Run the whole pipeline (dvc repro, validate_raw .. report) in a scratch project under other
params: params.yaml + each --profile in order + -S overrides. The sandbox is a fresh git + DVC
repo at --out with a copy of the code and the synthetic world its params describe; nothing in
this checkout (data, artifacts, dvc.lock, MLflow store) is touched. Prints and writes (--report)
per stage the wall time and the peak memory of its process tree (anonymous = what it holds,
file-backed = page cache of memory-mapped files).

examples:
  # the paper profile, small, on the scale world (make paper-smoke)
  avsal sandbox --profile profiles/paper.yaml --profile profiles/scale.yaml \\
      --profile profiles/paper_smoke.yaml --out .sandbox/paper-smoke
  # the scale world with the embedded nets, 4 clips per category
  avsal sandbox --profile profiles/scale.yaml -S synth.clips_per_category=4
"""


def _cmd_sandbox(args: argparse.Namespace) -> dict[str, Any]:
    import time
    from pathlib import Path

    from avsal.config import parse_overrides
    from avsal.experiments.sandbox import create_sandbox
    from avsal.utils.io import atomic_write_json

    t0 = time.perf_counter()
    sandbox, world = create_sandbox(
        Path.cwd(),
        args.out,
        profiles=tuple(args.profile),
        overrides=parse_overrides(args.sandbox_set),
        synth_workers=args.workers,
    )
    run = sandbox.repro(*args.targets)
    result = {
        "profiles": list(args.profile),
        "overrides": list(args.sandbox_set),
        "sandbox": str(sandbox.root),
        "world": world,
        "repro_seconds": run["seconds"],
        "total_seconds": round(time.perf_counter() - t0, 1),
        "stages": run["stages"],
    }
    if args.report:
        atomic_write_json(Path(args.report), result)  # timings are the point here
    return result


def add_tool_commands(sub: Any) -> None:
    """Add ``score`` (and ``predict``) to the ``avsal`` subparsers."""
    s = sub.add_parser(
        "score",
        help="score any method's saliency maps with the exact protocol (STAViS/MIT)",
        description=_SCORE_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    s.add_argument("maps_dir", metavar="MAPS_DIR", help="folder with one subfolder per set")
    s.add_argument("--out", default=None, help="results folder (default: scores/<MAPS_DIR name>)")
    s.add_argument("--sets", nargs="*", default=None, help="sets to score (default: all present)")
    s.add_argument(
        "--split",
        default="all",
        help="all (STAViS: every fold's test list together; DIEM's one list), reporting "
        "(evaluate.fold's test list), tuning (tune.split), or fold:K (default: all)",
    )
    s.add_argument(
        "--metrics",
        nargs="*",
        default=None,
        help="auc_judd sim auc_shuffled cc nss (the paper's five, default) and/or kld",
    )
    s.add_argument("--pattern", default=None, help="file name pattern, e.g. 'pred_%%05d.png'")
    s.add_argument(
        "--allow-missing",
        action="store_true",
        help="score the videos that have every map; list the others in run.json",
    )
    s.add_argument("--name", default=None, help="method name in table.md (default: folder name)")
    g = s.add_argument_group("protocol (defaults: evaluate.* in params.yaml, the paper's)")
    g.add_argument("--blur-sigma", type=float, default=None, help="Gaussian sigma in GT px (2)")
    g.add_argument("--s-auc-splits", type=int, default=None, help="s-AUC negative draws (100)")
    g.add_argument("--s-auc-step", type=float, default=None, help="s-AUC threshold step (0.1)")
    g.add_argument("--seed", type=int, default=None, help="seed of jitter and s-AUC draws (0)")
    s.set_defaults(func=_cmd_score)

    s = sub.add_parser(
        "predict",
        help="fixation maps (+ overlay mp4) for any video from a trained STA net",
        description=_PREDICT_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    s.add_argument("videos", nargs="+", metavar="VIDEO", help="mp4 files or frames folders")
    s.add_argument(
        "--model",
        required=True,
        help="state_dict .pt of the STA net (built from --params), or an MLflow model: "
        "runs:/<run id>/model, models:/avsal-sta/<version> (built from the params it carries)",
    )
    s.add_argument("--out", default="predictions", help="output folder (default: predictions)")
    s.add_argument("--fps", type=float, default=None, help="frame rate (default: the model's)")
    s.add_argument("--wav", default=None, help="audio of a frames folder (default: *.wav in it)")
    s.add_argument("--no-audio", action="store_true", help="no audio track: close the switch")
    s.add_argument("--no-overlay", action="store_true", help="skip overlay.mp4")
    s.add_argument("--device", default="auto", help="auto (CUDA when present), cpu or cuda")
    s.set_defaults(func=_cmd_predict)

    s = sub.add_parser(
        "dashboard",
        help="optuna-dashboard over a tuning campaign's storage (make dashboard)",
        description="Serve optuna-dashboard on 127.0.0.1 over the storage `avsal tune` used "
        "(--storage, else tune.storage, else sqlite:///<artifacts>/tune/optuna.db; "
        "journal:<file> and postgresql:// URLs work too). Ctrl-C stops it.",
    )
    s.add_argument("--storage", default=None, help="Optuna storage URL (default: as avsal tune)")
    s.add_argument("--study", default=None, help="print this study's address")
    s.add_argument("--port", type=int, default=8080, help="port on 127.0.0.1 (default 8080)")
    s.set_defaults(func=_cmd_dashboard)

    s = sub.add_parser(
        "sandbox",
        help="the whole pipeline in a scratch project under other profiles (paper, scale)",
        description=_SANDBOX_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    s.add_argument(
        "--profile", action="append", default=[], help="profile merged over params.yaml, in order"
    )
    s.add_argument(
        "-S",
        "--set",
        dest="sandbox_set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a param of the sandbox (after the profiles)",
    )
    s.add_argument(
        "--out", default=".sandbox/run", help="sandbox folder (replaced; default .sandbox/run)"
    )
    s.add_argument(
        "--workers", type=int, default=None, help="world generation processes (default: the cores)"
    )
    s.add_argument("--report", default=None, help="also write the result JSON here")
    s.add_argument("targets", nargs="*", help="dvc repro targets (default: every stage)")
    s.set_defaults(func=_cmd_sandbox)
