"""dvc stage scam@<stage>: selective fusion (Eq. 2-3) into pseudo fixations (+ coarse crop boxes)."""

from _common import run_stage


def _flags(p):
    p.add_argument("--stage", required=True, choices=["coarse", "fine"], help="SCAM stage")


def main(args, cfg):
    from avsal.stages.cams import run_scam

    return run_scam(cfg, stage=args.stage)


if __name__ == "__main__":
    run_stage(__doc__, main, _flags)
