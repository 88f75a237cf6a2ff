"""Audio front end: window cutting, both spectrogram variants against independent references."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torchaudio
from scipy import signal

from avsal.models.audio import (
    SPECTROGRAM_SHAPE,
    WINDOW_SECONDS,
    cut_audio_window,
    frame_audio_features,
    log_spectrogram,
)


def test_cut_window_centre_and_zero_padded_edges() -> None:
    wave = torch.arange(1.0, 11.0)  # 10 samples at 10 Hz, values 1..10

    def cut(x: torch.Tensor, center_s: float) -> list:
        return cut_audio_window(x, center_s=center_s, duration_s=0.4, sample_rate=10).tolist()

    assert cut(wave, 0.5) == [4.0, 5.0, 6.0, 7.0]  # samples 3..6 around sample 5
    assert cut(wave, 0.0) == [0.0, 0.0, 1.0, 2.0]  # zero padding before the start
    assert cut(wave, 0.9) == [8.0, 9.0, 10.0, 0.0]  # and after the end
    assert cut(wave, 5.0) == [0.0] * 4
    assert cut(torch.stack([wave, -wave]), 0.5)[1] == [-4.0, -5.0, -6.0, -7.0]
    with pytest.raises(ValueError, match="duration_s"):
        cut_audio_window(wave, center_s=0.5, duration_s=0.0)


def test_official_variant_matches_vggsound_scipy_preprocessing() -> None:
    rng = np.random.default_rng(0)
    x = rng.uniform(-1.2, 1.2, size=8000)  # 0.5 s at 16 kHz, some samples to be clipped
    _, _, ref = signal.spectrogram(np.clip(x, -1, 1), 16000, nperseg=512, noverlap=353)
    ref = np.log(ref + 1e-7)
    ref = (ref - ref.mean()) / (ref.std() + 1e-9)
    got = log_spectrogram(torch.from_numpy(x), variant="official")
    assert got.shape == (1, 257, 48) == (1, *SPECTROGRAM_SHAPE["official"])
    np.testing.assert_allclose(got[0].numpy(), ref, atol=1e-6)


def test_paper_variant_shape_and_known_values() -> None:
    assert log_spectrogram(torch.zeros(16000)).shape == (1, *SPECTROGRAM_SHAPE["paper"])
    assert log_spectrogram(torch.zeros(3, 16000)).shape == (3, 1, 64, 101)
    # Silence: log(0 + 1e-6) everywhere.
    silent = log_spectrogram(torch.zeros(16000))
    assert torch.allclose(silent, torch.full_like(silent, math.log(1e-6)))
    # A pure tone peaks in the mel band whose filter weighs its FFT bin most.
    t = torch.arange(16000) / 16000.0
    fb = torchaudio.functional.melscale_fbanks(257, 0.0, 8000.0, 64, 16000)  # [257, 64]
    for freq in (1000.0, 3000.0):
        spec = log_spectrogram(torch.sin(2 * math.pi * freq * t))[0]  # [64, 101]
        assert int(spec.mean(dim=1).argmax()) == int(fb[round(freq / 31.25)].argmax())


def test_frame_features_stack_per_frame_windows() -> None:
    wave = torch.randn(3 * 16000, generator=torch.Generator().manual_seed(0))
    times = [0.0, 1.5, 3.0]
    feats = frame_audio_features(wave, times, variant="official")
    assert feats.shape == (3, 1, 257, 48)
    for i, t in enumerate(times):
        win = cut_audio_window(wave, center_s=t, duration_s=WINDOW_SECONDS["official"])
        assert torch.allclose(feats[i], log_spectrogram(win, variant="official"), atol=1e-5)


def test_audio_input_errors() -> None:
    with pytest.raises(ValueError, match="unknown audio variant"):
        log_spectrogram(torch.zeros(16000), variant="vggish")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="at least 512"):
        log_spectrogram(torch.zeros(100))
    with pytest.raises(ValueError, match=r"\[N\] or \[B,N\]"):
        log_spectrogram(torch.zeros(1, 1, 16000))
    with pytest.raises(ValueError, match="mono"):
        frame_audio_features(torch.zeros(2, 16000), [0.5])
