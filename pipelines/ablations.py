"""dvc stage ablations: Tables 1-3 (CAMs, average vs selective SCAM, coarse vs fine, audio switch)."""

from _common import run_stage


def main(_, cfg):
    from avsal.stages.evaluate import run_ablations

    return run_ablations(cfg)["results"]


if __name__ == "__main__":
    run_stage(__doc__, main)
