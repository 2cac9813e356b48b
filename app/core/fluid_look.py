"""How a fluid render shows a face its kept swap cannot (wholly) cover.

A kept swap fades as the face turns away from the pose it was swapped in (FadeConfig, shape_change,
follow_weight): the similarity that carries it to the face's new five points cannot turn a face in depth.

A face with no swap of its own yet is shown as it is, or hidden (`until_swapped="blur"`): pixelated inside a soft
ellipse. Pixelation (about ten blocks across the face) reads at once as "hidden", costs well under a millisecond
a face and, unlike a light blur, leaves no recognisable face behind. Only the face's region is touched.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from app.core.similarity import similarity_fit
from app.core.types import Face, Frame, Points


@dataclass(frozen=True)
class FadeConfig:
    """How a kept swap fades as the face turns away from the pose it was swapped in. The shape change of a
    frontal face's five points grows by about 0.0035 per degree of yaw; a detector's 2 px jitter on a 60 px eye
    distance reads about 0.035, of which the tracker passes on a fraction."""

    full: float = 0.06  # up to this change the kept swap is shown whole (about 17 degrees of yaw)...
    gone: float = 0.11  # ...and from this one not at all (about 30 degrees)


def shape_change(then: Points, now: Points) -> float:
    """How much the five points' shape changed beyond what a similarity (move, turn in the picture, scale) can
    express: the RMS residual of the best similarity from `then` to `now`, over the larger eye distance."""
    a, b = np.asarray(then, np.float64), np.asarray(now, np.float64)
    try:
        matrix = similarity_fit(a, b)
    except ValueError:
        return math.inf
    residual = a @ matrix[:, :2].T + matrix[:, 2] - b
    eyes = max(float(np.linalg.norm(a[1] - a[0])), float(np.linalg.norm(b[1] - b[0])), 1e-6)
    return float(np.sqrt((residual ** 2).sum(axis=1).mean())) / eyes


def follow_weight(change: float, fade: FadeConfig) -> float:
    """How much of a kept swap to show after a shape change: 1 up to `fade.full`, 0 from `fade.gone`."""
    if change <= fade.full:
        return 1.0
    if change >= fade.gone:
        return 0.0
    return (fade.gone - change) / (fade.gone - fade.full)


BLOCKS = 10  # pixel blocks across the face
REACH = (0.62, 0.7)  # the ellipse's half-axes, as fractions of the face box's width and height


def blur_faces(frame: Frame, faces: Sequence[Face], strengths: Sequence[float]) -> None:
    """Pixelate each face of `frame` in place, by its strength (0: untouched, 1: wholly hidden)."""
    h, w = frame.shape[:2]
    for face, strength in zip(faces, strengths, strict=True):
        if strength <= 0.0:
            continue
        x1, y1, x2, y2 = face.box
        cx, cy = (x1 + x2) / 2.0, (y1 + y2) / 2.0
        rx, ry = max(x2 - x1, 2.0) * REACH[0], max(y2 - y1, 2.0) * REACH[1]
        x0, y0 = max(0, int(cx - rx)), max(0, int(cy - ry))
        x3, y3 = min(w, int(math.ceil(cx + rx))), min(h, int(math.ceil(cy + ry)))
        if x3 - x0 < 2 or y3 - y0 < 2:
            continue
        roi = frame[y0:y3, x0:x3]
        rw, rh = x3 - x0, y3 - y0
        cells = (BLOCKS, max(1, round(BLOCKS * rh / rw)))
        blocks = cv2.resize(cv2.resize(roi, cells, interpolation=cv2.INTER_AREA), (rw, rh),
                            interpolation=cv2.INTER_NEAREST)
        mask = np.zeros((rh, rw), np.uint8)
        cv2.ellipse(mask, (int(round(cx - x0)), int(round(cy - y0))), (int(rx), int(ry)), 0.0, 0.0, 360.0,
                    int(round(255 * min(strength, 1.0))), thickness=-1)
        mask = cv2.GaussianBlur(mask, (0, 0), sigmaX=max(rw, rh) / 30.0)
        alpha = cv2.cvtColor(mask, cv2.COLOR_GRAY2BGR)
        kept = cv2.multiply(roi, cv2.bitwise_not(alpha), scale=1.0 / 255.0)
        cv2.add(cv2.multiply(blocks, alpha, scale=1.0 / 255.0), kept, dst=roi)

