"""dvc stage validate_pseudo: the pseudo-GT suite; a failure stops dvc repro before STA trains."""

from _common import report_or_exit, stage_args
from avsal.stages.validate_pseudo import run

if __name__ == "__main__":
    _, cfg = stage_args(__doc__)
    report_or_exit(lambda: run(cfg))
