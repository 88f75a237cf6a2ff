"""Draw docs/predict_overlay.png (the README's picture) from `avsal predict` output.

avsal predict data/AVE_Dataset/AVE/YhUxCw4nzfH.mp4 --model artifacts/models/sta/sta.pt --out /tmp/pred
python docs/overlay_figure.py /tmp/pred/YhUxCw4nzfH docs/predict_overlay.png
"""

from __future__ import annotations

import sys
from pathlib import Path

import av
import numpy as np


def main(folder: str, out: str, picks: tuple[int, ...] = (2, 6, 10, 14)) -> None:
    with av.open(str(Path(folder) / "overlay.mp4")) as mp4:
        frames = [f.to_ndarray(format="rgb24") for f in mp4.decode(video=0)]
    chosen = [frames[min(k, len(frames) - 1)] for k in picks]
    gap = np.full((chosen[0].shape[0], 4, 3), 255, np.uint8)
    row = np.concatenate([x for f in chosen for x in (f, gap)][:-1], axis=1)
    import cv2

    cv2.imwrite(
        out,
        cv2.cvtColor(
            cv2.resize(row, None, fx=2, fy=2, interpolation=cv2.INTER_NEAREST), cv2.COLOR_RGB2BGR
        ),
    )


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
