"""BGR <-> YUV conversions without FFmpeg's default bias.

swscale's default BGR <-> YUV 4:2:0 path rounds down: every decode-encode generation darkens the picture by
about 2 levels (measured: mean -2.2 on t1.jpg at 1080p). Decoding uses swscale with accurate rounding and
full chroma interpolation (any pixel format, colour matrix and range, ~20 ms at 1080p); for the common
BT.601/unspecified limited-range 4:2:0 input, and for encoding 4:2:0, OpenCV's I420 conversion is exact to
within a level and about 5x faster. Output is tagged BT.601, limited range, so players decode it as it was
encoded."""

from __future__ import annotations

from typing import Any

import av
import cv2
import numpy as np
from av.video.reformatter import Interpolation

from app.core.types import Frame

ACCURATE = Interpolation.BILINEAR | Interpolation.ACCURATE_RND | Interpolation.FULL_CHR_H_INT
BT601 = 6  # AVCOL_SPC_SMPTE170M (and AVCOL_PRI/TRC_SMPTE170M)
UNSPECIFIED, BT470BG = 2, 5
LIMITED, FULL = 1, 2  # AVCOL_RANGE_MPEG, AVCOL_RANGE_JPEG


def to_bgr(frame: Any) -> Frame:
    """A decoded av.VideoFrame as a BGR frame, in its own colour matrix and range."""
    fmt = frame.format.name
    if (
        fmt == "yuv420p"
        and frame.colorspace in (UNSPECIFIED, BT470BG, BT601)
        and frame.color_range != FULL
        and frame.width % 2 == 0
        and frame.height % 2 == 0
    ):
        yuv = frame.to_ndarray(format="yuv420p")
        return np.ascontiguousarray(cv2.cvtColor(yuv, cv2.COLOR_YUV2BGR_I420), dtype=np.uint8)
    extra = {"src_color_range": frame.color_range} if frame.color_range else {}
    return np.ascontiguousarray(frame.to_ndarray(format="bgr24", interpolation=ACCURATE, **extra), dtype=np.uint8)


def tag_bt601(codec_context: Any) -> None:
    codec_context.colorspace = BT601
    codec_context.color_primaries = BT601
    codec_context.color_trc = BT601
    codec_context.color_range = LIMITED


def from_bgr(image: Frame, pix_fmt: str) -> av.VideoFrame:
    """A BGR frame as an av.VideoFrame in `pix_fmt`, BT.601 limited range."""
    h, w = image.shape[:2]
    if pix_fmt == "yuv420p" and w % 2 == 0 and h % 2 == 0:
        yuv = np.asarray(cv2.cvtColor(image, cv2.COLOR_BGR2YUV_I420), dtype=np.uint8)
        vf = av.VideoFrame.from_ndarray(yuv, format="yuv420p")
    else:
        vf = av.VideoFrame.from_ndarray(image, format="bgr24").reformat(
            format=pix_fmt, interpolation=ACCURATE, dst_colorspace="itu601", dst_color_range=LIMITED
        )
    vf.colorspace = BT601
    vf.color_range = LIMITED
    return vf
