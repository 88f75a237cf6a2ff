"""dvc stage validate_raw: great-expectations suites over data/; non-zero exit stops dvc repro."""

from _common import run_stage


def main(_, cfg):
    from avsal.stages.validate_raw import run

    return run(cfg)


if __name__ == "__main__":
    run_stage(__doc__, main)
