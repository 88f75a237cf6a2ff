"""dvc stage prepare: decode every AVE clip and fixation video once into artifacts/prepared."""

from _common import report, stage_args
from avsal.stages.prepare import run

if __name__ == "__main__":
    _, cfg = stage_args(__doc__)
    report(run(cfg))
