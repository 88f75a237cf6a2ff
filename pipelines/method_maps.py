"""dvc stage method_maps@<set>: CAMs and coarse/fine SCAMs of the method on one fixation set."""

from _common import run_stage


def _flags(p):
    p.add_argument("--set-name", required=True, help="fixation set, e.g. AVAD")


def main(args, cfg):
    from avsal.stages.method_maps import run

    return run(cfg, name=args.set_name)


if __name__ == "__main__":
    run_stage(__doc__, main, _flags)
