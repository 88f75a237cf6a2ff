"""dvc stage validate_raw: great-expectations suites over data/; non-zero exit stops dvc repro."""

from _common import report_or_exit, stage_args
from avsal.stages.validate_raw import run

if __name__ == "__main__":
    _, cfg = stage_args(__doc__)
    report_or_exit(lambda: run(cfg))
