"""dvc stage cams@<stage>: CAMs (Eq. 1) of S, ST, SA for every tagged AVE frame."""

from _common import report, stage_args
from avsal.stages.cams import run_cams

if __name__ == "__main__":
    args, cfg = stage_args(__doc__, lambda p: p.add_argument("--stage", required=True, choices=["coarse", "fine"]))
    report(run_cams(cfg, stage=args.stage))
