"""Classification nets of Sec. 3.4/3.7 (S, ST, SA), the audio switch, CAM_STA's net and the audio net.

Input contract (the same for every net, so the data pipeline can feed one dict to any of them);
all keyword-only tensors, unused ones are ignored:

- ``frame``  [B, 3, H, W]  RGB float in [0, 1] (normalisation happens inside the backbone);
- ``clip``   [B, 3, T, H, W]  RGB in [0, 1], T odd, the key frame is ``clip[:, :, T // 2]``;
- ``audio``  [B, 1, F, Ta]  log spectrogram of the key frame's audio window
  (``avsal.models.audio.log_spectrogram``);
- ``switch_prob`` [B] in [0, 1], optional: a precomputed audio-switch probability (see Eq. 4).

Nets that need the clip (ST, CAM_STA, STA) take the key frame from the clip's middle and ignore
``frame``; nets that need only a frame use ``frame``, or the clip's middle frame if only a clip is
given. Every classification net exposes the CAM contract:
``forward_features(**inputs) -> [B, D, h, w]``, ``forward_head(features) -> logits [B, C]``
(global average pooling + linear), ``get_classifier() -> nn.Linear`` and
``forward(**inputs) == forward_head(forward_features(**inputs))``.

Eq. 4, SA <- ReLU(sigma(phi(A)) * S + S): A is the A flow's vector [B, D] broadcast over space.
phi is the audio switch: with a (frozen) ``AudioSwitchNet`` attached, phi(A) = p_switch * A where
p_switch is its sigmoid probability that the audio matches the visual tag; with a ``switch_prob``
input that value is used instead (e.g. precomputed once, or the tagger's 0/1 labels, Eq. 4's
literal reading); with neither, phi(A) = A (the "without audio switch" ablation, Table 3).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from avsal.models.backbones import Backbone
from avsal.models.flows import (
    AudioEncoder,
    AudioFlow,
    STAFusion,
    TemporalFlow,
    apply_audio_switch,
    gated_residual,
)

# --------------------------------------------------------------------------- input checks


def check_frame(frame: Tensor | None, who: str) -> Tensor:
    if frame is None:
        raise ValueError(f"{who} needs 'frame' [B,3,H,W] (or 'clip' [B,3,T,H,W])")
    if frame.dim() != 4 or frame.shape[1] != 3:
        raise ValueError(f"{who}: 'frame' must be [B,3,H,W], got shape {tuple(frame.shape)}")
    return frame


def check_clip(clip: Tensor | None, who: str) -> Tensor:
    if clip is None:
        raise ValueError(f"{who} needs 'clip' [B,3,T,H,W] with odd T")
    if clip.dim() != 5 or clip.shape[1] != 3:
        raise ValueError(f"{who}: 'clip' must be [B,3,T,H,W], got shape {tuple(clip.shape)}")
    if clip.shape[2] % 2 != 1:
        raise ValueError(
            f"{who}: 'clip' must have an odd number of frames T (key frame in the middle), "
            f"got T={clip.shape[2]}"
        )
    return clip


def check_audio(audio: Tensor | None, batch: int, who: str) -> Tensor:
    if audio is None:
        raise ValueError(f"{who} needs 'audio' [B,1,F,Ta] (a log spectrogram)")
    if audio.dim() != 4 or audio.shape[1] != 1:
        raise ValueError(f"{who}: 'audio' must be [B,1,F,Ta], got shape {tuple(audio.shape)}")
    if audio.shape[0] != batch:
        raise ValueError(f"{who}: 'audio' batch {audio.shape[0]} != visual batch {batch}")
    return audio


def key_frame(frame: Tensor | None, clip: Tensor | None, who: str) -> Tensor:
    """The frame a frame-only net should see: ``frame``, else the clip's middle frame."""
    if frame is None and clip is not None:
        clip = check_clip(clip, who)
        return clip[:, :, clip.shape[2] // 2]
    return check_frame(frame, who)


def values_checkable(t: Tensor) -> bool:
    """Value checks read the data on the host; on an accelerator they would force a device sync
    every training step, so there only shapes are checked (the data stages validate values)."""
    return t.device.type == "cpu"


def check_switch_prob(p: Tensor, batch: int, who: str) -> Tensor:
    if p.dim() != 1 or p.shape[0] != batch:
        raise ValueError(f"{who}: 'switch_prob' must be [B]=[{batch}], got {tuple(p.shape)}")
    if values_checkable(p) and not bool(((p >= 0) & (p <= 1)).all()):
        raise ValueError(f"{who}: 'switch_prob' must lie in [0, 1]")
    return p


def temporal_flow(backbone: Backbone, width: int, input_stride: int) -> TemporalFlow:
    """The T flow matched to ``backbone``'s channels and stride (ST, CAM_STA and STA use it)."""
    return TemporalFlow(
        out_channels=backbone.out_channels,
        stride=backbone.stride,
        width=width,
        input_stride=input_stride,
    )


# --------------------------------------------------------------------------- base class


class ClassificationNet(nn.Module):
    """Features -> GAP -> linear; the contract CAM relies on (see module docstring)."""

    def __init__(self, *, feature_dim: int, num_classes: int) -> None:
        super().__init__()
        if num_classes < 1:
            raise ValueError(f"num_classes must be >= 1, got {num_classes}")
        self.feature_dim = feature_dim
        self.num_classes = num_classes
        self.classifier = nn.Linear(feature_dim, num_classes)

    def forward_features(
        self,
        *,
        frame: Tensor | None = None,
        clip: Tensor | None = None,
        audio: Tensor | None = None,
        switch_prob: Tensor | None = None,
    ) -> Tensor:
        raise NotImplementedError

    def forward_head(self, features: Tensor) -> Tensor:
        """features [B,D,h,w] -> logits [B,C] (global average pool, then the linear layer)."""
        return self.classifier(features.mean(dim=(2, 3)))

    def get_classifier(self) -> nn.Linear:
        return self.classifier

    def forward(self, **inputs: Tensor | None) -> Tensor:
        return self.forward_head(self.forward_features(**inputs))


class AudioSwitchMixin:
    """Holds an optional frozen AudioSwitchNet and resolves p_switch for phi (Eq. 4/5)."""

    audio_switch: AudioSwitchNet | None

    def attach_audio_switch(self, switch: AudioSwitchNet | None) -> None:
        """Attach a trained switch; it is frozen (no grads, always eval) and saved in state_dict."""
        if switch is not None:
            switch.eval()
            for p in switch.parameters():
                p.requires_grad_(False)
        self.audio_switch = switch

    def train(self, mode: bool = True) -> Any:
        super().train(mode)  # type: ignore[misc]
        if self.audio_switch is not None:
            self.audio_switch.eval()
        return self

    def resolve_switch_prob(
        self, frame: Tensor, audio: Tensor, switch_prob: Tensor | None, who: str
    ) -> Tensor | None:
        """Explicit ``switch_prob`` wins; else the attached switch's probability; else None."""
        if switch_prob is not None:
            return check_switch_prob(switch_prob, frame.shape[0], who)
        if self.audio_switch is None:
            return None
        with torch.no_grad():
            return self.audio_switch.probability(frame=frame, audio=audio)


# --------------------------------------------------------------------------- the nets


class SNet(ClassificationNet):
    """S classification net (Fig. 6-A): backbone features of one frame."""

    def __init__(self, *, backbone: Backbone, num_classes: int) -> None:
        super().__init__(feature_dim=backbone.out_channels, num_classes=num_classes)
        self.backbone = backbone

    def forward_features(
        self,
        *,
        frame: Tensor | None = None,
        clip: Tensor | None = None,
        audio: Tensor | None = None,
        switch_prob: Tensor | None = None,
    ) -> Tensor:
        return self.backbone(key_frame(frame, clip, "SNet"))  # [B, D, h, w]


class STNet(ClassificationNet):
    """ST net: ReLU(sigma(T) * S + S), T = plain 3D conv flow over the clip (key frame centred)."""

    def __init__(
        self,
        *,
        backbone: Backbone,
        num_classes: int,
        temporal_width: int = 32,
        temporal_input_stride: int = 2,
    ) -> None:
        super().__init__(feature_dim=backbone.out_channels, num_classes=num_classes)
        self.backbone = backbone
        self.temporal = temporal_flow(backbone, temporal_width, temporal_input_stride)

    def forward_features(
        self,
        *,
        frame: Tensor | None = None,
        clip: Tensor | None = None,
        audio: Tensor | None = None,
        switch_prob: Tensor | None = None,
    ) -> Tensor:
        clip = check_clip(clip, "STNet")
        s = self.backbone(clip[:, :, clip.shape[2] // 2])  # [B, D, h, w]
        t = self.temporal(clip, s.shape[-2:])  # [B, D, h, w]
        return torch.relu(gated_residual(s, t))


class SANet(AudioSwitchMixin, ClassificationNet):
    """SA net (Eq. 4): ReLU(sigma(phi(A)) * S + S), phi = audio switch (module docstring)."""

    def __init__(
        self,
        *,
        backbone: Backbone,
        num_classes: int,
        audio_widths: tuple[int, ...] = (32, 64, 128, 256),
        audio_switch: AudioSwitchNet | None = None,
    ) -> None:
        super().__init__(feature_dim=backbone.out_channels, num_classes=num_classes)
        self.backbone = backbone
        self.audio_flow = AudioFlow(out_channels=backbone.out_channels, widths=audio_widths)
        self.audio_switch = None
        self.attach_audio_switch(audio_switch)

    def forward_features(
        self,
        *,
        frame: Tensor | None = None,
        clip: Tensor | None = None,
        audio: Tensor | None = None,
        switch_prob: Tensor | None = None,
    ) -> Tensor:
        who = type(self).__name__
        frame = key_frame(frame, clip, who)
        audio = check_audio(audio, frame.shape[0], who)
        s = self.backbone(frame)  # [B, D, h, w]
        a = self.audio_flow(audio)  # [B, D]
        p = self.resolve_switch_prob(frame, audio, switch_prob, who)  # [B] or None
        return torch.relu(gated_residual(s, apply_audio_switch(a, p)[:, :, None, None]))


class AudioSwitchNet(SANet):
    """The audio switch (Sec. 3.7): SA's structure with one logit, "audio matches the tag".

    Trained with BCE on the tagger's binary labels (``avsal.models.tagger.switch_labels``); its
    own fusion has no switch (phi(A) = A).
    """

    def __init__(
        self, *, backbone: Backbone, audio_widths: tuple[int, ...] = (32, 64, 128, 256)
    ) -> None:
        super().__init__(backbone=backbone, num_classes=1, audio_widths=audio_widths)

    def attach_audio_switch(self, switch: AudioSwitchNet | None) -> None:
        if switch is not None:
            raise ValueError("the audio switch net cannot itself have an audio switch")
        self.audio_switch = None

    def resolve_switch_prob(
        self, frame: Tensor, audio: Tensor, switch_prob: Tensor | None, who: str
    ) -> None:
        """The switch's own fusion is plain Eq. 4 with phi(A) = A: ``switch_prob`` is ignored."""
        return None

    def probability(self, **inputs: Tensor | None) -> Tensor:
        """P(audio matches the visual tag) [B]."""
        return torch.sigmoid(self.forward(**inputs)[:, 0])


class STAFlows(AudioSwitchMixin):
    """S, T and A flows fused by Eq. 5: the trunk CAM_STA's net and the STA fixation net share."""

    backbone: Backbone
    temporal: TemporalFlow
    audio_flow: AudioFlow
    fusion: STAFusion

    def init_flows(
        self,
        backbone: Backbone,
        temporal_width: int,
        temporal_input_stride: int,
        audio_widths: tuple[int, ...],
    ) -> None:
        """Create the flows in a fixed order (it fixes the seeded initial weights)."""
        self.backbone = backbone
        self.temporal = temporal_flow(backbone, temporal_width, temporal_input_stride)
        self.audio_flow = AudioFlow(out_channels=backbone.out_channels, widths=audio_widths)

    def forward_features(
        self,
        *,
        frame: Tensor | None = None,
        clip: Tensor | None = None,
        audio: Tensor | None = None,
        switch_prob: Tensor | None = None,
    ) -> Tensor:
        """Eq. 5 fused features [B, D', h, w]; the key frame is the clip's middle one."""
        who = type(self).__name__
        clip = check_clip(clip, who)
        frame = clip[:, :, clip.shape[2] // 2]
        audio = check_audio(audio, clip.shape[0], who)
        s = self.backbone(frame)  # [B, D, h, w]
        t = self.temporal(clip, s.shape[-2:])  # [B, D, h, w]
        p = self.resolve_switch_prob(frame, audio, switch_prob, who)
        a = apply_audio_switch(self.audio_flow(audio), p)  # [B, D]
        return self.fusion(s, t, a)  # [B, D', h, w]


class STAClassificationNet(STAFlows, ClassificationNet):
    """CAM_STA's net (Table 2): the STA fusion of Eq. 5 with a classification head."""

    def __init__(
        self,
        *,
        backbone: Backbone,
        num_classes: int,
        temporal_width: int = 32,
        temporal_input_stride: int = 2,
        audio_widths: tuple[int, ...] = (32, 64, 128, 256),
        fused_channels: int | None = None,
        audio_switch: AudioSwitchNet | None = None,
    ) -> None:
        fusion = STAFusion(channels=backbone.out_channels, out_channels=fused_channels)
        super().__init__(feature_dim=fusion.out_channels, num_classes=num_classes)
        self.init_flows(backbone, temporal_width, temporal_input_stride, audio_widths)
        self.fusion = fusion
        self.audio_switch = None
        self.attach_audio_switch(audio_switch)


class AudioNet(ClassificationNet):
    """Audio-only classifier (spectrogram -> class logits): the trainable audio tagger."""

    def __init__(self, *, num_classes: int, widths: tuple[int, ...] = (32, 64, 128, 256)) -> None:
        encoder = AudioEncoder(widths=widths)
        super().__init__(feature_dim=encoder.out_channels, num_classes=num_classes)
        self.encoder = encoder

    def forward_features(
        self,
        *,
        frame: Tensor | None = None,
        clip: Tensor | None = None,
        audio: Tensor | None = None,
        switch_prob: Tensor | None = None,
    ) -> Tensor:
        if audio is None:
            raise ValueError("AudioNet needs 'audio' [B,1,F,Ta]")
        return self.encoder(check_audio(audio, audio.shape[0], "AudioNet"))  # [B, C, f, t]
