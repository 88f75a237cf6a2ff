"""dvc stage evaluate: Table 4 rows (STA, centre bias, pseudo-GT method) on the reporting split."""

from _common import run_stage


def main(_, cfg):
    from avsal.stages.evaluate import run

    return run(cfg)["results"]


if __name__ == "__main__":
    run_stage(__doc__, main)
