"""Per-face alpha masks in the aligned crop's space, for the paste-back (FacePaster.paste(mask=...)).

Two kinds of mask make one alpha per face:

- the face mask: where the swapped crop covers the frame. `box` is today's feathered square (the default,
  bit-identical to paste.feather_mask); `ellipse` is an ellipse placed by the alignment template (it hides
  the swap's square corners, the reason Deep-Live-Cam moved to one); `hull` is the face's outline from the
  106 landmarks: the convex hull of the jaw and brows, extended upwards to the forehead. Each with padding
  (grows or shrinks the shape, a fraction of the crop size) and feather (the width of the soft edge, from 10 %
  to 90 % alpha, a fraction of the crop size).
- the mouth mask: the lips and the opening between them (the outer lip polygon of the 106 landmarks), grown
  by `size` and softened by `feather` (both fractions of the mouth's width, corner to corner). Where it is
  on, the pixels come from the original frame, on top of the swapped face.

The face mask follows the crop's content (with a face scale it grows with the swapped face); the mouth mask
stays on the frame's own mouth: it is placed through the same scaled crop -> frame transform the paste uses.
A shape is grown or shrunk by a distance transform, then blurred: a straight edge rises from 10 % to 90 %
over the asked feather width, and its 50 % line sits `padding` (or `size`) outside the shape.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from statistics import NormalDist
from typing import Literal, get_args

import cv2
import numpy as np
import numpy.typing as npt

from app.core.landmarks import (
    BROW_LEFT,
    BROW_RIGHT,
    CONTOUR,
    LIPS_OUTER,
    MOUTH_CORNERS,
    PUPILS,
    Landmarks,
    to_crop,
)
from app.core.paste import FEATHER_SIGMA, INNER_MARGIN, feather_mask, scaled_inverse
from app.core.swap import template_points
from app.core.types import Matrix
from app.errors import OptionError

Alpha = npt.NDArray[np.uint8]  # size x size, 0..255
MaskShape = Literal["box", "ellipse", "hull"]
MASK_SHAPES: tuple[str, ...] = get_args(MaskShape)

EDGE_PER_SIGMA = 2.0 * NormalDist().inv_cdf(0.9)  # a blurred step's 10-90 % width, in sigmas (2.563)

# Face masks: padding and feather as fractions of the crop size.
FACE_PADDING_RANGE = (-0.2, 0.2)
FACE_FEATHER_RANGE = (0.0, 0.25)
DEFAULT_FACE_FEATHER = FEATHER_SIGMA * EDGE_PER_SIGMA  # today's box: sigma 0.035 of the crop, edge ~9 %
# Mouth mask: size and feather as fractions of the mouth's width.
MOUTH_SIZE_RANGE = (0.0, 1.0)
MOUTH_FEATHER_RANGE = (0.0, 1.0)
DEFAULT_MOUTH_SIZE = 0.1
DEFAULT_MOUTH_FEATHER = 0.3

# The ellipse, in units of the template's eye-to-mouth distance d (about 41 px in a 128 crop): centred 0.3 d
# below the eyes' midpoint, half-axes 1.2 d across and 1.42 d down: from ear to ear, hairline to chin.
ELLIPSE_DROP = 0.3
ELLIPSE_AXES = (1.2, 1.42)
# The hull's forehead: the brows moved up by this many eye-to-mouth distances (brow to hairline).
FOREHEAD = 0.7


def _check(name: str, value: float, bounds: tuple[float, float]) -> None:
    low, high = bounds
    if not (np.isfinite(value) and low <= value <= high):
        raise OptionError(f"{name} must be between {low} and {high}, got {value}")


@dataclass(frozen=True)
class FaceMaskSpec:
    """Which face mask, how much bigger (padding, fraction of the crop size; negative shrinks it) and how
    soft (feather: the edge's 10-90 % width, fraction of the crop size)."""

    shape: MaskShape = "box"
    padding: float = 0.0
    feather: float = DEFAULT_FACE_FEATHER

    def __post_init__(self) -> None:
        if self.shape not in MASK_SHAPES:
            raise OptionError(f"mask must be one of {', '.join(MASK_SHAPES)}, got {self.shape!r}")
        _check("mask padding", self.padding, FACE_PADDING_RANGE)
        _check("mask feather", self.feather, FACE_FEATHER_RANGE)

    @property
    def needs_landmarks(self) -> bool:
        return self.shape == "hull"


@dataclass(frozen=True)
class MouthMaskSpec:
    """The kept mouth: grown by `size` and softened by `feather` (the edge's 10-90 % width), both fractions
    of the mouth's width."""

    size: float = DEFAULT_MOUTH_SIZE
    feather: float = DEFAULT_MOUTH_FEATHER

    def __post_init__(self) -> None:
        _check("mouth mask size", self.size, MOUTH_SIZE_RANGE)
        _check("mouth mask feather", self.feather, MOUTH_FEATHER_RANGE)


def _soft(inside: npt.NDArray[np.uint8], grow_px: float, edge_px: float) -> Alpha:
    """Alpha from a rasterised shape (255 inside): the shape grown by `grow_px` (negative: shrunk), then
    blurred so that a straight edge rises from 10 % to 90 % over `edge_px` (50 % on the grown edge)."""
    shape = inside
    if grow_px != 0.0:
        # Pixel centres lie half a pixel from the rasterised edge on either side.
        if grow_px > 0.0:
            outside_dist = cv2.distanceTransform(cv2.bitwise_not(inside), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
            shape = np.where(outside_dist - 0.5 <= grow_px, 255, 0).astype(np.uint8)
        else:
            inside_dist = cv2.distanceTransform(inside, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
            shape = np.where(inside_dist - 0.5 >= -grow_px, 255, 0).astype(np.uint8)
    if edge_px <= 0.0:
        return np.ascontiguousarray(shape)
    # Blurring the binary shape (rather than mapping a distance field) averages the raster's staircase away.
    blurred = cv2.GaussianBlur(shape.astype(np.float32), (0, 0), sigmaX=edge_px / EDGE_PER_SIGMA)
    return np.asarray(np.clip(blurred + 0.5, 0, 255), dtype=np.uint8)


def _fill(size: int, points: npt.NDArray[np.float64]) -> npt.NDArray[np.uint8]:
    """The convex hull of `points` (crop pixels) filled at sub-pixel precision."""
    canvas = np.zeros((size, size), np.uint8)
    hull = cv2.convexHull(np.round(points * 16.0).astype(np.int32))
    cv2.fillConvexPoly(canvas, hull, 255, lineType=cv2.LINE_8, shift=4)
    return canvas


def box_mask(size: int, spec: FaceMaskSpec) -> Alpha:
    """Today's feathered square, grown by the padding; FaceMaskSpec() gives exactly paste.feather_mask."""
    return feather_mask(size, INNER_MARGIN - spec.padding, spec.feather / EDGE_PER_SIGMA)


def ellipse_mask(size: int, spec: FaceMaskSpec) -> Alpha:
    """An ellipse around where alignment puts the face (the template, not this face's landmarks)."""
    dst = template_points(size)
    eyes, mouth = dst[:2].mean(axis=0), dst[3:].mean(axis=0)
    d = float(np.linalg.norm(mouth - eyes))
    centre = eyes + ELLIPSE_DROP * (mouth - eyes)
    canvas = np.zeros((size, size), np.uint8)
    c = (int(round(centre[0] * 16)), int(round(centre[1] * 16)))
    axes = (int(round(ELLIPSE_AXES[0] * d * 16)), int(round(ELLIPSE_AXES[1] * d * 16)))
    cv2.ellipse(canvas, c, axes, 0.0, 0.0, 360.0, 255, thickness=-1, lineType=cv2.LINE_8, shift=4)
    return _soft(canvas, spec.padding * size, spec.feather * size)


def hull_points(crop_landmarks: Landmarks) -> npt.NDArray[np.float64]:
    """The jaw, the brows and the brows moved up to the forehead (along the face's own up direction)."""
    pts = crop_landmarks.astype(np.float64)
    eyes = pts[list(PUPILS)].mean(axis=0)
    mouth = pts[list(MOUTH_CORNERS)].mean(axis=0)
    up = eyes - mouth
    brows = pts[list(BROW_LEFT + BROW_RIGHT)]
    return np.concatenate([pts[list(CONTOUR)], brows, brows + FOREHEAD * up])


def hull_mask(size: int, spec: FaceMaskSpec, crop_landmarks: Landmarks) -> Alpha:
    return _soft(_fill(size, hull_points(crop_landmarks)), spec.padding * size, spec.feather * size)


def face_mask(size: int, spec: FaceMaskSpec, crop_landmarks: Landmarks | None = None) -> Alpha:
    """The face mask of `spec` for a size x size crop. A hull needs the face's landmarks in crop pixels;
    without them it falls back to the ellipse (the caller says why: landmarks.missing_landmark_message)."""
    if spec.shape == "box":
        return box_mask(size, spec)
    if spec.shape == "hull" and crop_landmarks is not None:
        return hull_mask(size, spec, crop_landmarks)
    return ellipse_mask(size, spec)


def mouth_mask(size: int, spec: MouthMaskSpec, crop_landmarks: Landmarks) -> Alpha:
    """The mouth region (255 = keep the frame's own mouth) in a size x size crop."""
    pts = crop_landmarks.astype(np.float64)
    lips = pts[list(LIPS_OUTER)]
    width = float(np.linalg.norm(pts[MOUTH_CORNERS[1]] - pts[MOUTH_CORNERS[0]]))
    return _soft(_fill(size, lips), spec.size * width, spec.feather * width)


def without(alpha: Alpha, hole: Alpha) -> Alpha:
    """`alpha` with `hole` cut out (alpha * (255 - hole) / 255, rounded)."""
    return np.asarray(cv2.multiply(alpha, cv2.bitwise_not(hole), scale=1.0 / 255.0), dtype=np.uint8)


class MaskMaker:
    """Builds each face's crop-space alpha. Masks that do not depend on the face (box, ellipse) are made
    once per (size, spec). Thread-safe."""

    def __init__(self) -> None:
        self._static: dict[tuple[int, FaceMaskSpec], Alpha] = {}
        self._lock = threading.Lock()  # an engine (and its maker) may serve several threads

    def static(self, size: int, spec: FaceMaskSpec) -> Alpha:
        key = (size, spec)
        with self._lock:
            mask = self._static.get(key)
        if mask is None:
            mask = face_mask(size, spec)
            mask.setflags(write=False)
            with self._lock:
                if len(self._static) > 16:
                    self._static.clear()
                self._static[key] = mask
        return mask

    def alpha(
        self,
        size: int,
        matrix: Matrix,
        face: FaceMaskSpec,
        mouth: MouthMaskSpec | None = None,
        landmarks: Landmarks | None = None,
        face_scale: float = 1.0,
    ) -> Alpha | None:
        """The alpha for one face's paste (`matrix`: frame -> crop of `size`; `landmarks`: its 106 points in
        frame pixels, or None when the model is missing). None means the paster's own default mask (the
        default box and no mouth): that path stays exactly as it was."""
        if face == FaceMaskSpec() and (mouth is None or landmarks is None):
            return None
        if face.needs_landmarks and landmarks is not None:
            alpha = hull_mask(size, face, to_crop(landmarks, matrix))
        else:
            alpha = self.static(size, face if face.shape != "hull" else FaceMaskSpec("ellipse", face.padding,
                                                                                      face.feather))
        if mouth is None or landmarks is None:
            return alpha
        # The frame's mouth seen from the crop through the paste's (possibly scaled) crop -> frame transform.
        to_scaled_crop = matrix if face_scale == 1.0 else np.asarray(
            cv2.invertAffineTransform(scaled_inverse(matrix, size, face_scale)), dtype=np.float64)
        return without(alpha, mouth_mask(size, mouth, to_crop(landmarks, to_scaled_crop)))
