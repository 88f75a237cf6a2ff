"""dvc stage audio_switch: tagger labels (1 = audio carries the tag), then the switch net (Eq. 4)."""

from _common import report, stage_args
from avsal.stages.train_cls import run_audio_switch

if __name__ == "__main__":
    _, cfg = stage_args(__doc__)
    report(run_audio_switch(cfg))
