"""dvc stage validate_pseudo: the pseudo-GT suite; a failure stops dvc repro before STA trains."""

import sys

from _common import report, stage_args
from avsal.stages.validate_pseudo import run
from avsal.stages.validate_raw import ValidationFailed

if __name__ == "__main__":
    _, cfg = stage_args(__doc__)
    try:
        report(run(cfg))
    except ValidationFailed as exc:
        print(exc, file=sys.stderr)
        sys.exit(1)
