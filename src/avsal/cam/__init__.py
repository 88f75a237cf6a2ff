"""CAM (Eq. 1), selective fusion SCAM (Eq. 2-3) and the coarse-to-fine crops (Sec. 3.6)."""

from avsal.cam.activation import (
    cam_and_probs,
    cam_from_features,
    class_activation_map,
    minmax_normalize,
)
from avsal.cam.crop import (
    Box,
    binarize,
    box_from_map,
    box_from_mask,
    clip_box,
    crop_resize,
    full_box,
    paste_back,
    scale_box,
    temporal_postprocess,
)
from avsal.cam.scam import (
    FUSION_RULES,
    average_weights,
    fusion_weights,
    official_weights,
    paper_weights,
    selective_fusion,
    selective_fusion_batch,
)

__all__ = [
    "FUSION_RULES",
    "Box",
    "average_weights",
    "binarize",
    "box_from_map",
    "box_from_mask",
    "cam_and_probs",
    "cam_from_features",
    "class_activation_map",
    "clip_box",
    "crop_resize",
    "full_box",
    "fusion_weights",
    "minmax_normalize",
    "official_weights",
    "paper_weights",
    "paste_back",
    "scale_box",
    "selective_fusion",
    "selective_fusion_batch",
    "temporal_postprocess",
]
