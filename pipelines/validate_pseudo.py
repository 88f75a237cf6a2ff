"""dvc stage validate_pseudo: the pseudo-GT suite; a failure stops dvc repro before STA trains."""

from _common import run_stage


def main(_, cfg):
    from avsal.stages.validate_pseudo import run

    return run(cfg)


if __name__ == "__main__":
    run_stage(__doc__, main)
