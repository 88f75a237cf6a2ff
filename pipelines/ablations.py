"""dvc stage ablations: Tables 1-3 (CAMs, average vs selective SCAM, coarse vs fine, audio switch)."""

from _common import report, stage_args
from avsal.stages.evaluate import run_ablations

if __name__ == "__main__":
    _, cfg = stage_args(__doc__)
    report(run_ablations(cfg)["results"])
