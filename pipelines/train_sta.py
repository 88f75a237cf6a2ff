"""dvc stage train_sta@<variant>: the STA fixation net on the final pseudo fixations (Eq. 5-6)."""

from _common import run_stage


def _flags(p):
    p.add_argument(
        "--variant",
        default="sta",
        choices=["sta", "sta_noswitch"],
        help="with or without the audio switch",
    )


def main(args, cfg):
    from avsal.stages.sta import run_train

    return run_train(cfg, variant=args.variant, track=not args.no_mlflow)


if __name__ == "__main__":
    run_stage(__doc__, main, _flags)
