"""dvc stage validate_raw: great-expectations suites over data/; non-zero exit stops dvc repro."""

import sys

from _common import report, stage_args
from avsal.stages.validate_raw import ValidationFailed, run

if __name__ == "__main__":
    _, cfg = stage_args(__doc__)
    try:
        report(run(cfg))
    except ValidationFailed as exc:
        print(exc, file=sys.stderr)
        sys.exit(1)
