"""dvc stage evaluate: Table 4 rows (STA, centre bias, pseudo-GT method) on the reporting split."""

from _common import report, stage_args
from avsal.stages.evaluate import run

if __name__ == "__main__":
    _, cfg = stage_args(__doc__)
    report(run(cfg)["results"])
