"""dvc stage train_cls@<stage>-<net>: one tag-supervised classification net (S, ST, SA, STA-cls)."""

from _common import report, stage_args
from avsal.stages.train_cls import run


def _flags(p):
    p.add_argument("--stage", required=True, choices=["coarse", "fine"], help="SCAM stage")
    p.add_argument("--net", required=True, choices=["s", "st", "sa", "sta_cls"], help="which net")


if __name__ == "__main__":
    args, cfg = stage_args(__doc__, _flags)
    report(run(cfg, stage=args.stage, net=args.net))
