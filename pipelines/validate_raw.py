"""dvc stage validate_raw: great-expectations suites over data/; non-zero exit stops dvc repro."""

import json
import sys

from _common import stage_args
from avsal.stages.validate_raw import ValidationFailed, run

if __name__ == "__main__":
    _, _, cfg = stage_args(__doc__)
    try:
        print(json.dumps(run(cfg), indent=1))
    except ValidationFailed as exc:
        print(exc, file=sys.stderr)
        sys.exit(1)
