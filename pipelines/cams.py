"""dvc stage cams@<stage>: CAMs (Eq. 1) of S, ST, SA for every tagged AVE frame."""

from _common import run_stage


def _flags(p):
    p.add_argument("--stage", required=True, choices=["coarse", "fine"], help="SCAM stage")


def main(args, cfg):
    from avsal.stages.cams import run_cams

    return run_cams(cfg, stage=args.stage)


if __name__ == "__main__":
    run_stage(__doc__, main, _flags)
