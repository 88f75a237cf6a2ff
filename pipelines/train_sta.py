"""dvc stage train_sta@<variant>: the STA fixation net on the final pseudo fixations (Eq. 5-6)."""

from _common import report, stage_args
from avsal.stages.sta import VARIANTS, run_train

if __name__ == "__main__":
    args, cfg = stage_args(__doc__, lambda p: p.add_argument("--variant", default="sta", choices=VARIANTS))
    report(run_train(cfg, variant=args.variant))
