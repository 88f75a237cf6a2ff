"""The T and A flows and the fusion rules of Eq. 4 and Eq. 5.

T flow (design choice, documented for cost): the paper only says "plain 3D convolution to sense
temporal information". We run a light plain 3D CNN directly on the raw clip [B, 3, T, H, W]:
a 2x spatial average pool (``input_stride``), then one Conv3d(3x3x3, stride (1, 2, 2)) + BN +
ReLU stage per remaining factor 2 of the backbone's stride (widths 32-64-128 for stride 16),
temporal zero padding so any odd T works, then the time slice of the key (middle) frame,
projected by a 1x1 conv to the backbone's channels. About 2.5 GFLOPs per 356 px clip of 5 frames
against VGG16's ~77 (multiply-add = 2), so ST/STA stay close to a single-frame backbone's cost;
running the backbone on every frame would multiply it by T. Measured on an H100 (batch 32,
356 px, T=5, bf16, channels_last, ``benchmarks/train_throughput.py``): STA trains at 0.75x the
raw VGG16 forward+backward frames/s; with ``input_stride=1`` (3D convs at full resolution,
widths 32-256) it was 0.53x.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from avsal.models.backbones import IMAGENET_MEAN, IMAGENET_STD


def gated_residual(s: Tensor, gate_logits: Tensor) -> Tensor:
    """sigma(g) * S + S, the shared inner term of Eq. 4 and Eq. 5 (g broadcasts over S)."""
    return torch.sigmoid(gate_logits) * s + s


def apply_audio_switch(a: Tensor, switch_prob: Tensor | None) -> Tensor:
    """phi(A): p_switch * A with the switch's probability that audio matches the visual tag.

    a [B, D], switch_prob [B] or None. None is the "without audio switch" ablation: phi(A) = A.
    With p = 0 the gate becomes sigma(0) = 0.5 for every channel, so the audio carries no
    information and S is only rescaled uniformly (CAMs are unchanged by that after min-max).
    """
    if switch_prob is None:
        return a
    if switch_prob.shape != a.shape[:1]:  # values are checked by the nets' input checks
        raise ValueError(
            f"switch_prob must be [B]={tuple(a.shape[:1])}, got {tuple(switch_prob.shape)}"
        )
    return a * switch_prob.to(a.dtype).unsqueeze(1)


def _conv3d_bn_relu(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv3d(cin, cout, 3, stride=(1, 2, 2), padding=1, bias=False),
        nn.BatchNorm3d(cout),
        nn.ReLU(inplace=True),
    )


class TemporalFlow(nn.Module):
    """T flow: plain 3D CNN on the raw clip, read out at the key frame (see module docstring)."""

    def __init__(
        self,
        *,
        out_channels: int,
        stride: int,
        width: int = 32,
        max_channels: int = 256,
        input_stride: int = 2,
    ) -> None:
        super().__init__()
        if input_stride < 1 or stride % input_stride != 0:
            raise ValueError(f"input_stride {input_stride} must divide the stride {stride}")
        n_stages = int(round(math.log2(stride // input_stride)))
        if n_stages < 1 or 2**n_stages * input_stride != stride:
            raise ValueError(
                f"TemporalFlow needs stride / input_stride = a power of 2 >= 2, "
                f"got {stride} / {input_stride}"
            )
        # Average-pool the frames first: motion cues are coarse, and the full-resolution
        # first 3D stage was the T flow's main cost (memory traffic of its activations).
        self.pool = nn.AvgPool3d((1, input_stride, input_stride)) if input_stride > 1 else None
        chans = [min(width * 2**i, max_channels) for i in range(n_stages)]
        self.body = nn.Sequential(
            *[_conv3d_bn_relu(cin, cout) for cin, cout in zip([3] + chans[:-1], chans)]
        )
        self.proj = nn.Conv2d(chans[-1], out_channels, 1)
        self.stride = stride
        self.register_buffer(
            "mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1, 1), persistent=False
        )
        self.register_buffer(
            "std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1, 1), persistent=False
        )

    def forward(self, clip: Tensor, size: tuple[int, int]) -> Tensor:
        """clip [B,3,T,H,W] in [0,1] -> T features [B,D,*size] aligned with the key frame."""
        x = (clip - self.mean.to(clip.dtype)) / self.std.to(clip.dtype)
        if self.pool is not None:
            x = self.pool(x)  # [B, 3, T, H/s, W/s]
        y = self.body(x)  # [B, c, T, h', w']
        y = self.proj(y[:, :, y.shape[2] // 2])  # key frame slice -> [B, D, h', w']
        if tuple(y.shape[-2:]) != tuple(size):  # conv rounding differs from the backbone's pools
            y = F.interpolate(y, size=size, mode="bilinear", align_corners=False)
        return y


class AudioEncoder(nn.Module):
    """2D CNN on a log spectrogram: [B,1,F,Ta] -> [B, C, ~F/16, ~Ta/16]."""

    def __init__(self, *, widths: tuple[int, ...] = (32, 64, 128, 256)) -> None:
        super().__init__()
        # BN on the input: the two spectrogram variants have very different scales.
        self.input_norm = nn.BatchNorm2d(1)
        layers: list[nn.Module] = []
        for cin, cout in zip((1,) + widths[:-1], widths):
            layers += [
                nn.Conv2d(cin, cout, 3, stride=2, padding=1, bias=False),
                nn.BatchNorm2d(cout),
                nn.ReLU(inplace=True),
            ]
        self.body = nn.Sequential(*layers)
        self.out_channels = widths[-1]

    def forward(self, audio: Tensor) -> Tensor:
        return self.body(self.input_norm(audio))


class AudioFlow(nn.Module):
    """A flow: AudioEncoder -> global average pool -> linear to the visual channels: [B, D]."""

    def __init__(self, *, out_channels: int, widths: tuple[int, ...] = (32, 64, 128, 256)) -> None:
        super().__init__()
        self.encoder = AudioEncoder(widths=widths)
        self.proj = nn.Linear(self.encoder.out_channels, out_channels)

    def forward(self, audio: Tensor) -> Tensor:
        return self.proj(self.encoder(audio).mean(dim=(2, 3)))


class STAFusion(nn.Module):
    """Eq. 5: ReLU(Conv1x1(Concat(sigma(phi(A)) * S + S, sigma(T) * S + S)))."""

    def __init__(self, *, channels: int, out_channels: int | None = None) -> None:
        super().__init__()
        self.out_channels = out_channels or channels
        self.conv = nn.Conv2d(2 * channels, self.out_channels, 1)

    def forward(self, s: Tensor, t: Tensor, a_phi: Tensor) -> Tensor:
        """s, t [B,D,h,w]; a_phi [B,D] (already through the audio switch) -> [B,D',h,w]."""
        sa = gated_residual(s, a_phi[:, :, None, None])
        st = gated_residual(s, t)
        return F.relu(self.conv(torch.cat([sa, st], dim=1)))
