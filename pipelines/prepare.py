"""dvc stage prepare: decode every AVE clip and fixation video once into artifacts/prepared."""

from _common import run_stage


def main(_, cfg):
    from avsal.stages.prepare import run

    return run(cfg)


if __name__ == "__main__":
    run_stage(__doc__, main)
