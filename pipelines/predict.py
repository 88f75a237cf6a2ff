"""dvc stage predict@<set>: STA predictions (with and without the audio switch) for one fixation set."""

from _common import report, stage_args
from avsal.stages.sta import run_predict

if __name__ == "__main__":
    args, cfg = stage_args(__doc__, lambda p: p.add_argument("--set-name", required=True, help="fixation set, e.g. AVAD"))
    report({v: run_predict(cfg, name=args.set_name, variant=v) for v in ("sta", "sta_noswitch")})
