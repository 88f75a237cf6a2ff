"""dvc stage claims: the paper's orderings as paired differences with bootstrap intervals."""

from _common import run_stage


def main(_, cfg):
    from avsal.stages.claims import run

    return run(cfg)


if __name__ == "__main__":
    run_stage(__doc__, main)
