"""dvc stage method_maps@<set>: CAMs and coarse/fine SCAMs of the method on one fixation set."""

from _common import report, stage_args
from avsal.stages.method_maps import run

if __name__ == "__main__":
    args, cfg = stage_args(__doc__, lambda p: p.add_argument("--set-name", required=True, help="fixation set, e.g. AVAD"))
    report(run(cfg, name=args.set_name))
