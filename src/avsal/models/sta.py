"""The STA fixation prediction network (Sec. 3.8, Fig. 6-D) and its BCE loss (Eq. 6).

S flow (the frame backbone on the key frame), T flow (plain 3D conv over the clip), A flow
(spectrogram CNN); Eq. 5 fuses them:
    STA <- ReLU(Conv1x1(Concat(sigma(phi(A)) * S + S, sigma(T) * S + S)))
then a decoder of three ConvTranspose2d layers (x2 each) to one channel, bilinearly resized to
the input size. ``forward_logits`` returns logits for a numerically stable BCE; ``forward``
returns probabilities. Inputs follow the contract of ``avsal.models.classifiers`` (``clip`` and
``audio`` required, ``switch_prob`` optional; ``frame`` is ignored, the key frame is the clip's
middle one).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from avsal.models.backbones import Backbone
from avsal.models.classifiers import AudioSwitchNet, STAFlows, check_clip, values_checkable
from avsal.models.flows import STAFusion


class STAFixationNet(STAFlows, nn.Module):
    """STA fixation net: Eq. 5 fusion (``STAFlows``) + 3-deconv decoder -> saliency [B, 1, H, W]."""

    def __init__(
        self,
        *,
        backbone: Backbone,
        temporal_width: int = 32,
        temporal_input_stride: int = 2,
        audio_widths: tuple[int, ...] = (32, 64, 128, 256),
        fused_channels: int | None = None,
        decoder_channels: tuple[int, int] = (256, 128),
        audio_switch: AudioSwitchNet | None = None,
    ) -> None:
        super().__init__()
        self.init_flows(backbone, temporal_width, temporal_input_stride, audio_widths)
        self.fusion = STAFusion(channels=backbone.out_channels, out_channels=fused_channels)
        c1, c2 = decoder_channels
        self.decoder = nn.Sequential(
            nn.ConvTranspose2d(self.fusion.out_channels, c1, 4, stride=2, padding=1),
            nn.ReLU(inplace=True),
            nn.ConvTranspose2d(c1, c2, 4, stride=2, padding=1),
            nn.ReLU(inplace=True),
            nn.ConvTranspose2d(c2, 1, 4, stride=2, padding=1),
        )
        self.audio_switch = None
        self.attach_audio_switch(audio_switch)

    def decode(self, features: Tensor, out_size: tuple[int, int]) -> Tensor:
        """features [B, D', h, w] -> logits [B, 1, *out_size] (three deconvs x2, then resize)."""
        y = self.decoder(features)  # [B, 1, 8h, 8w]
        if tuple(y.shape[-2:]) != tuple(out_size):
            y = F.interpolate(y, size=out_size, mode="bilinear", align_corners=False)
        return y

    def forward_logits(self, **inputs: Tensor | None) -> Tensor:
        """Logits [B, 1, H, W] at the clip's frame size (for ``sta_loss``)."""
        clip = check_clip(inputs.get("clip"), "STAFixationNet")
        return self.decode(self.forward_features(**inputs), tuple(clip.shape[-2:]))

    def forward(self, **inputs: Tensor | None) -> Tensor:
        """Fixation probabilities [B, 1, H, W] in (0, 1)."""
        return torch.sigmoid(self.forward_logits(**inputs))


def sta_loss(logits: Tensor, target: Tensor) -> Tensor:
    """Eq. 6: mean binary cross entropy between Dec(STA) and the pseudo-GT, on logits.

    logits [B, 1, H, W]; target [B, 1, H, W] or [B, H, W], values in [0, 1] (soft pseudo-GT;
    checked for CPU tensors, see ``values_checkable``).
    """
    if target.dim() == logits.dim() - 1 and logits.dim() == 4 and logits.shape[1] == 1:
        target = target.unsqueeze(1)
    if target.shape != logits.shape:
        raise ValueError(
            f"target shape {tuple(target.shape)} does not match logits {tuple(logits.shape)}"
        )
    if values_checkable(target) and not bool(((target >= 0) & (target <= 1)).all()):
        raise ValueError("pseudo-GT target values must lie in [0, 1]")
    return F.binary_cross_entropy_with_logits(logits, target.to(logits.dtype))
