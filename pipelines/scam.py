"""dvc stage scam@<stage>: selective fusion (Eq. 2-3) into pseudo fixations (+ coarse crop boxes)."""

from _common import report, stage_args
from avsal.stages.cams import run_scam

if __name__ == "__main__":
    args, cfg = stage_args(__doc__, lambda p: p.add_argument("--stage", required=True, choices=["coarse", "fine"]))
    report(run_scam(cfg, stage=args.stage))
