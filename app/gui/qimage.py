"""Frames (BGR uint8 numpy arrays) as QImages, at the edge of the GUI.

The QImage wraps the array's memory without copying; the caller keeps the array alive as long as the image
(`FrameImage` does both). Qt's raster engine paints Format_BGR888 through a conversion on every draw, and its
smooth scaling of a large image into a large widget costs several ms, so the preview has cv2 resize the frame to
the exact size it will be shown at and convert it to 32-bit in the same step (about 1 ms at 1080p); the paint is
then a plain blit of the fast RGB32 path.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from PySide6.QtGui import QImage

from app.core.types import Frame


@dataclass(frozen=True, eq=False)
class FrameImage:
    """A QImage and the array whose memory it shows."""

    image: QImage
    buffer: np.ndarray

    @property
    def width(self) -> int:
        return int(self.image.width())

    @property
    def height(self) -> int:
        return int(self.image.height())


def wrap_bgr(frame: Frame) -> FrameImage:
    """A Format_BGR888 QImage over `frame`'s memory (no copy)."""
    buf = np.ascontiguousarray(frame)
    h, w = buf.shape[:2]
    image = QImage(buf.data, w, h, int(buf.strides[0]), QImage.Format.Format_BGR888)
    return FrameImage(image, buf)


def to_display(frame: Frame, size: tuple[int, int] | None = None) -> FrameImage:
    """A Format_RGB32 QImage of `frame` (the format Qt paints fastest), resized to `size` (width, height)."""
    if size is not None and size != (frame.shape[1], frame.shape[0]) and size[0] > 0 and size[1] > 0:
        # Bilinear: INTER_AREA looks no better at a preview's under-2x shrink and costs ten times as much.
        frame = np.asarray(cv2.resize(frame, size, interpolation=cv2.INTER_LINEAR), dtype=np.uint8)
    bgra = cv2.cvtColor(frame, cv2.COLOR_BGR2BGRA)
    h, w = bgra.shape[:2]
    image = QImage(bgra.data, w, h, int(bgra.strides[0]), QImage.Format.Format_RGB32)
    return FrameImage(image, bgra)


def to_owned_qimage(frame: Frame) -> QImage:
    """A QImage that owns its pixels (for the clipboard, or to keep after the frame is gone)."""
    return wrap_bgr(frame).image.copy()


def face_thumbnail(frame: Frame, box: tuple[float, float, float, float], size: int = 48,
                   margin: float = 0.25) -> FrameImage:
    """A square `size` px picture of the face in `box` (grown by `margin` on each side, kept inside the frame),
    for lists of photos and people. A copy: the frame may be reused after this returns."""
    h, w = frame.shape[:2]
    x1, y1, x2, y2 = box
    cx, cy = (x1 + x2) / 2.0, (y1 + y2) / 2.0
    half = max(x2 - x1, y2 - y1) * (0.5 + margin)
    left, top = max(0, int(round(cx - half))), max(0, int(round(cy - half)))
    right, bottom = min(w, int(round(cx + half))), min(h, int(round(cy + half)))
    if right <= left or bottom <= top:
        left, top, right, bottom = 0, 0, w, h
    crop = np.ascontiguousarray(frame[top:bottom, left:right])
    ch, cw = crop.shape[:2]
    scale = size / max(ch, cw)
    return to_display(crop, (max(1, round(cw * scale)), max(1, round(ch * scale))))
