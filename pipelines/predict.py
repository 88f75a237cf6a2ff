"""dvc stage predict@<set>: STA predictions (with and without the audio switch) for one fixation set."""

from _common import run_stage


def _flags(p):
    p.add_argument("--set-name", required=True, help="fixation set, e.g. AVAD")


def main(args, cfg):
    from avsal.stages.sta import run_predict

    return {v: run_predict(cfg, name=args.set_name, variant=v) for v in ("sta", "sta_noswitch")}


if __name__ == "__main__":
    run_stage(__doc__, main, _flags)
