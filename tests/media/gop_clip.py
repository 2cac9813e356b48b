"""A clip that can be cut: keyframes every 8 frames, B-frames (so decode and presentation order differ),
and an AAC sine track, made from the same panning frames as tests/media/test_video.py."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from app.media.colour import from_bgr
from tests.media.test_video import RATE, SAMPLE_RATE

GOP = 8
X264 = {"preset": "ultrafast", "crf": "10", "x264-params": f"keyint={GOP}:min-keyint={GOP}:scenecut=0:bframes=2"}


def write_gop_clip(path: Path, frames: list[np.ndarray], audio: bool = True) -> float:
    """Encode `frames` (BGR) at 25 fps; returns the length in seconds."""
    out = av.open(str(path), "w")
    vs = out.add_stream("libx264", rate=RATE, options=X264)
    vs.height, vs.width = frames[0].shape[:2]
    vs.pix_fmt = "yuv420p"
    tb = 1 / RATE
    vs.codec_context.time_base = tb
    length = len(frames) / float(RATE)
    astream = None
    if audio:
        astream = out.add_stream("aac", rate=SAMPLE_RATE)
        astream.layout = "mono"
    for i, image in enumerate(frames):
        vf = from_bgr(image, "yuv420p")
        vf.pts, vf.time_base = i, tb
        out.mux(vs.encode(vf))
    out.mux(vs.encode(None))
    if astream is not None:
        n = round(length * SAMPLE_RATE)
        wave = (0.3 * np.sin(2 * np.pi * 440 * np.arange(n) / SAMPLE_RATE)).astype(np.float32)
        for start in range(0, n, 1024):
            af = av.AudioFrame.from_ndarray(wave[None, start : start + 1024], format="flt", layout="mono")
            af.sample_rate, af.pts, af.time_base = SAMPLE_RATE, start, Fraction(1, SAMPLE_RATE)
            out.mux(astream.encode(af))
        out.mux(astream.encode(None))
    out.close()
    return length
