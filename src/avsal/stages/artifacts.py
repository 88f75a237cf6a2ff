"""Where every stage output lives, and how to load it: the one owner of artifact paths.

The roots come from params.yaml once (``paths.artifacts``, ``paths.reports``); dvc.yaml declares
the same locations as stage ``outs`` (``tests/stages/test_stages_artifacts.py`` checks that each
path here is inside a declared out).  Stages and tuning trials locate and load each other's
outputs only through this module, so no stage module imports another one.

Light (no torch, no nets): the prepare and report stages use it without depending on the
training code; loading a trained net is :mod:`avsal.stages.common`'s.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from avsal.config import Config

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

    from avsal.data.datasets import MapStore
    from avsal.data.prepared import PreparedSet

__all__ = [
    "Paths",
    "NETS",
    "MAP_NAMES",
    "STA_VARIANTS",
    "prepared",
    "uses_switch",
    "coarse_boxes_for",
    "load_store",
]

#: the three classification nets of each SCAM stage (Fig. 6 A-C) whose CAMs are fused
NETS = ("s", "st", "sa")

#: STA variants: the main net (with the audio switch unless disabled) and the ablation without it
STA_VARIANTS = ("sta", "sta_noswitch")

#: the maps method_maps@<set> writes per frame, in this channel order
MAP_NAMES = (
    "cam_s",
    "cam_st",
    "cam_sa",
    "cam_sta",
    "scam_avg_coarse",
    "scam_sel_coarse",
    "scam_avg_fine",
    "scam_sel_fine",
    "cam_s_fine",
    "cam_st_fine",
    "cam_sa_fine",
)


class Paths:
    """Every artifact path of the pipeline, under ``paths.artifacts`` / ``paths.reports``."""

    def __init__(self, cfg: Config) -> None:
        self.art = Path(cfg.paths.artifacts)
        self.rep = Path(cfg.paths.reports)

    def prepared(self, name: str) -> Path:
        """Decoded shards: ``prepared/ave`` or ``prepared/fixations/<SET>`` (stage prepare)."""
        return (
            self.art / "prepared" / "ave"
            if name == "ave"
            else self.art / "prepared" / "fixations" / name
        )

    def model(self, stage: str, net: str) -> Path:
        """Exported state_dict of a net (``stage``: coarse, fine, audio_switch, tagger, sta)."""
        return self.art / "models" / stage / f"{net}.pt"

    def checkpoints(self, stage: str, net: str) -> Path:
        return self.art / "checkpoints" / stage / net

    def cams(self, stage: str) -> Path:
        return self.art / "cams" / stage

    def pseudo(self, stage: str) -> Path:
        return self.art / "pseudo" / stage

    def predictions(self, variant: str, set_name: str) -> Path:
        """STA predictions of one fixation set (stage predict@<set>)."""
        return self.art / "predictions" / variant / set_name

    def method_maps(self, set_name: str) -> Path:
        """The pseudo-GT method and its ablation maps on one fixation set (stage method_maps@<set>)."""
        return self.art / "method_maps" / set_name

    def eval_frames(self, name: str) -> Path:
        """Per-frame score table of the evaluate / ablations stage."""
        return self.art / "eval" / f"{name}_frames.csv"

    def report(self, name: str) -> Path:
        return self.rep / name


def prepared(cfg: Config, name: str) -> PreparedSet:
    """The prepared (decoded, sharded) AVE set or fixation set ``name``."""
    from avsal.data.prepared import PreparedSet

    return PreparedSet(Paths(cfg).prepared(name))


def uses_switch(cfg: Config, variant: str) -> bool:
    """Whether STA ``variant`` carries the frozen audio switch (Eq. 5)."""
    if variant not in STA_VARIANTS:
        raise ValueError(f"unknown STA variant {variant!r}; expected one of {STA_VARIANTS}")
    return variant == "sta" and cfg.sta.audio_switch and cfg.audio_switch.enabled


def coarse_boxes_for(
    cfg: Config, prepared_set: PreparedSet, refs: list[tuple[int, int]]
) -> np.ndarray:
    """Crop boxes of ``refs`` from the coarse SCAM stage ([N, 4], cached-frame coordinates)."""
    import numpy as np

    from avsal.data.datasets import MapStore

    folder = Paths(cfg).pseudo("coarse")
    store = MapStore.load(folder)
    pos = {r: k for k, r in enumerate(store.refs_in(prepared_set))}
    missing = [r for r in refs if r not in pos]
    if missing:
        raise KeyError(f"{folder}: no coarse box for {len(missing)} frame(s), e.g. {missing[0]}")
    return np.asarray(store.extra["boxes"])[[pos[r] for r in refs]]


def load_store(folder: Path) -> MapStore:
    """A saved map store (CAMs, pseudo-GT, predictions, method maps)."""
    from avsal.data.datasets import MapStore

    return MapStore.load(folder)
