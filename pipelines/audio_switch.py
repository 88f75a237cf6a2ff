"""dvc stage audio_switch: tagger labels (1 = audio carries the tag), then the switch net (Eq. 4)."""

from _common import run_stage


def main(args, cfg):
    from avsal.stages.train_cls import run_audio_switch

    return run_audio_switch(cfg, track=not args.no_mlflow)


if __name__ == "__main__":
    run_stage(__doc__, main)
