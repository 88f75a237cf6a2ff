"""dvc stage train_cls@<stage>-<net>: one tag-supervised classification net (S, ST, SA, STA-cls)."""

from _common import run_stage


def _flags(p):
    p.add_argument("--stage", required=True, choices=["coarse", "fine"], help="SCAM stage")
    p.add_argument("--net", required=True, choices=["s", "st", "sa", "sta_cls"], help="which net")


def main(args, cfg):
    from avsal.stages.train_cls import run

    return run(cfg, stage=args.stage, net=args.net, track=not args.no_mlflow)


if __name__ == "__main__":
    run_stage(__doc__, main, _flags)
