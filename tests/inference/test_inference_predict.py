"""`avsal predict` on the three real AVE clips (320x240 @ 17.6 fps, 640x360 @ 29.97, 1280x720 @
25) with an STA net built from params.yaml: map count = decoded frames at the model's fps, the
overlay mp4 decodes and carries the clip's audio; no audio track, bad model, bad file."""

from __future__ import annotations

import json
import math

import av
import numpy as np
import pytest
import torch

from avsal.config import load_config
from avsal.data.video import MissingAudioError, probe
from avsal.inference import load_model, predict_video

CLIPS = ["0lFf-HP86Q0.mp4", "16eUxQwxxbs.mp4", "22olCB3wQaA.mp4"]


@pytest.fixture(scope="module")
def sta_file(tmp_path_factory, repo_root):
    """A state_dict as the pipeline writes it: the STA net with its audio switch."""
    from avsal.stages.common import build_net
    from avsal.training.checkpoint import save_state_dict

    cfg = load_config(repo_root / "params.yaml")
    torch.manual_seed(0)
    switch = build_net(cfg, "audio_switch", num_classes=None)
    net = build_net(cfg, "sta", num_classes=None, switch=switch)
    path = tmp_path_factory.mktemp("model") / "sta.pt"
    save_state_dict(path, net.state_dict())
    return cfg, path


@pytest.mark.slow
@pytest.mark.parametrize("clip", CLIPS)
def test_real_clip_maps_overlay_and_record(clip, sta_file, real_samples, tmp_path):
    cfg, path = sta_file
    model = load_model(str(path), cfg)
    video = real_samples / "ave_clips" / clip
    info = probe(video)
    res = predict_video(model, video, out=tmp_path)
    n = int(math.floor(info.duration * cfg.prepare.fps + 1e-6))
    folder = tmp_path / video.stem
    assert (
        res["frames"]
        == n
        == len(list(folder.glob("map_*.npy")))
        == len(list((folder / "png").glob("*.png")))
    )
    first = np.load(folder / "map_00001.npy")
    assert first.dtype == np.float16 and first.shape == (info.height, info.width)
    assert 0.0 <= float(first.min()) <= float(first.max()) <= 1.0
    with av.open(str(folder / "overlay.mp4")) as mp4:
        frames = sum(1 for _ in mp4.decode(video=0))
        audio = mp4.streams.audio[0]
        seconds = (
            float(audio.duration * audio.time_base) if audio.duration else float(mp4.duration / 1e6)
        )
    assert frames == n and abs(seconds - info.duration) < 0.25
    record = json.loads((folder / "predict.json").read_text())
    assert record["model"] == str(path) and record["audio"] == "16000 Hz mono"


def test_no_audio_track_is_an_error_unless_asked(sta_file, tmp_path):
    from avsal.data.synth_files import write_mp4

    cfg, path = sta_file
    silent = tmp_path / "silent.mp4"
    frames = np.full((8, 48, 64, 3), 90, np.uint8)
    write_mp4(silent, frames, 8.0, np.zeros(16000, np.float32), 16000)
    # strip the audio stream: remux the video only
    bare = tmp_path / "bare.mp4"
    with av.open(str(silent)) as src, av.open(str(bare), "w") as dst:
        vs = dst.add_stream_from_template(src.streams.video[0])
        for pkt in src.demux(src.streams.video[0]):
            if pkt.dts is not None:
                pkt.stream = vs
                dst.mux(pkt)
    model = load_model(str(path), cfg)
    with pytest.raises(MissingAudioError, match="bare.mp4: no audio stream; pass --no-audio"):
        predict_video(model, bare, out=tmp_path / "out")
    assert not (tmp_path / "out" / "bare").exists()
    res = predict_video(model, bare, out=tmp_path / "out", no_audio=True, overlay=False)
    assert res["audio"].startswith("none: switch closed") and res["frames"] == 4  # 1 s at 4 fps


def test_model_of_other_params_fails_clearly(sta_file, repo_root, tmp_path):
    from avsal.config import with_overrides

    cfg, path = sta_file
    other = with_overrides(cfg, {"sta.decoder_channels": [16, 8]})
    with pytest.raises(ValueError, match="does not fit the STA net of the given params"):
        load_model(str(path), other)
    with pytest.raises(FileNotFoundError, match="model file not found"):
        load_model(str(tmp_path / "nope.pt"), cfg)


def test_corrupt_video_names_the_file(sta_file, tmp_path):
    from avsal.data.video import DecodeError

    cfg, path = sta_file
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"garbage" * 50)
    with pytest.raises(DecodeError, match="broken.mp4"):
        predict_video(load_model(str(path), cfg), bad, out=tmp_path / "out")
