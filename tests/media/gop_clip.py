"""A clip that can be cut: keyframes every 8 frames, B-frames (so decode and presentation order differ),
and an AAC sine track, made from the same panning frames as tests/media/test_video.py."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tests.media.test_video import write_clip

GOP = 8
X264 = {"preset": "ultrafast", "crf": "10", "x264-params": f"keyint={GOP}:min-keyint={GOP}:scenecut=0:bframes=2"}


def write_gop_clip(path: Path, frames: list[np.ndarray], audio: bool = True) -> float:
    """Encode `frames` (BGR) at 25 fps; returns the length in seconds."""
    return write_clip(path, frames, audio="aac" if audio else None, x264=X264)
