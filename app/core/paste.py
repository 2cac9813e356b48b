"""Pasting a processed face crop back into the frame, inside the face's region only.

Everything happens inside the box that the inverse-warped crop covers, clipped to the frame; pixels outside
every face region are returned bit-for-bit unchanged. The blend is 8-bit (premultiplied colour plus the
background times one minus alpha), exact where the mask is 0 and within a level or two elsewhere.
"""

from __future__ import annotations

import math

import cv2
import numpy as np
import numpy.typing as npt

from app.core.types import Frame, Matrix

Region = tuple[int, int, int, int]  # x0, y0, x1, y1 (exclusive)

# Feathering of the crop's edge, as fractions of the crop size: fully opaque inside the inner margin,
# fading over the blur. (insightface erodes ~10% and blurs ~5% of the face size, over the whole frame.)
INNER_MARGIN = 0.1
FEATHER_SIGMA = 0.035


def feather_mask(size: int, margin: float = INNER_MARGIN, sigma: float = FEATHER_SIGMA) -> npt.NDArray[np.uint8]:
    """A soft rectangular mask (0..255) for a size x size crop: opaque inside `margin`, blurred by `sigma`
    (both fractions of the size)."""
    mask = np.zeros((size, size), dtype=np.float32)
    m = min(max(int(round(size * margin)), 0), size // 2)
    mask[m : size - m, m : size - m] = 1.0
    if sigma <= 0.0:
        return np.asarray(mask * 255.0, dtype=np.uint8)
    blurred = cv2.GaussianBlur(mask, (0, 0), sigmaX=size * sigma)
    return np.asarray(np.clip(blurred * 255.0 + 0.5, 0, 255), dtype=np.uint8)


def scaled_inverse(matrix: Matrix, size: int, face_scale: float) -> Matrix:
    """The crop -> frame transform, scaled by `face_scale` about the crop's centre."""
    inv = cv2.invertAffineTransform(matrix).astype(np.float64)
    if face_scale != 1.0:
        centre = inv @ np.array([size / 2.0, size / 2.0, 1.0])
        inv[:, :2] *= face_scale
        inv[:, 2] = face_scale * inv[:, 2] + (1.0 - face_scale) * centre
    return inv


def crop_region(inv: Matrix, size: int, frame_shape: tuple[int, ...]) -> Region | None:
    """The box the warped crop covers, clipped to the frame; None when it lies outside."""
    corners = np.array([[0, 0, 1], [size, 0, 1], [0, size, 1], [size, size, 1]], dtype=np.float64)
    pts = corners @ inv.T
    h, w = frame_shape[:2]
    x0 = max(0, math.floor(pts[:, 0].min()))
    y0 = max(0, math.floor(pts[:, 1].min()))
    x1 = min(w, math.ceil(pts[:, 0].max()))
    y1 = min(h, math.ceil(pts[:, 1].max()))
    if x1 <= x0 or y1 <= y0:
        return None
    return x0, y0, x1, y1


def match_colour(swapped: Frame, target: Frame, mask: npt.NDArray[np.uint8]) -> Frame:
    """Shift the swapped crop's colour to the target crop's, per channel, inside the opaque part of the mask.

    Means are matched; contrast only within a narrow band, so a different identity keeps its own shading."""
    inner = (mask >= 128).astype(np.uint8)
    mean_t, std_t = cv2.meanStdDev(target, mask=inner)
    mean_s, std_s = cv2.meanStdDev(swapped, mask=inner)
    gain = np.clip(std_t[:, 0] / np.maximum(std_s[:, 0], 1.0), 0.8, 1.25)
    bias = mean_t[:, 0] - gain * mean_s[:, 0]
    transform = np.zeros((3, 4), dtype=np.float64)
    transform[np.arange(3), np.arange(3)] = gain
    transform[:, 3] = bias
    return np.ascontiguousarray(cv2.transform(swapped, transform))


class FacePaster:
    """Pastes crops of one size back into frames. Holds only its precomputed mask."""

    def __init__(self, crop_size: int = 128) -> None:
        self.crop_size = crop_size
        self.mask = feather_mask(crop_size)

    def paste(
        self,
        frame: Frame,
        crop: Frame,
        matrix: Matrix,
        blend: float = 1.0,
        face_scale: float = 1.0,
        colour_reference: Frame | None = None,
        mask: npt.NDArray[np.uint8] | None = None,
    ) -> Region | None:
        """Blend `crop` (aligned by `matrix`, frame -> crop) into `frame` in place; returns the region touched.

        `colour_reference` is the original aligned crop; when given, the crop's colour is matched to it.
        `mask` is this face's own alpha in crop space (size x size, 0..255; app/core/masks.py makes them);
        None: the feathered box."""
        size = crop.shape[0]
        if mask is None:
            mask = self.mask if size == self.crop_size else feather_mask(size)
        elif mask.shape != (size, size) or mask.dtype != np.uint8:
            raise ValueError(f"a paste mask must be {size}x{size} uint8, got {mask.shape} {mask.dtype}")
        inv = scaled_inverse(matrix, size, face_scale)
        region = crop_region(inv, size, frame.shape)
        if region is None or blend <= 0.0:
            return None
        x0, y0, x1, y1 = region
        if colour_reference is not None:
            crop = match_colour(crop, colour_reference, mask)
        inv[0, 2] -= x0
        inv[1, 2] -= y0
        # One warp carries colour and alpha together: the crop is premultiplied by its mask (times the
        # blend) as BGRA, which bilinear interpolation handles correctly and which this OpenCV warps about
        # twice as fast per channel as plain BGR.
        alpha = mask if blend >= 1.0 else cv2.multiply(mask, blend, dtype=cv2.CV_8U)  # type: ignore[call-overload]
        alpha3 = cv2.cvtColor(alpha, cv2.COLOR_GRAY2BGR)
        premultiplied = cv2.merge((*cv2.split(cv2.multiply(crop, alpha3, scale=1.0 / 255.0)), alpha))
        warped = cv2.warpAffine(premultiplied, inv, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR,
                                borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        roi = frame[y0:y1, x0:x1]
        keep = cv2.cvtColor(cv2.bitwise_not(cv2.extractChannel(warped, 3)), cv2.COLOR_GRAY2BGR)
        background = cv2.multiply(roi, keep, scale=1.0 / 255.0)
        cv2.add(cv2.cvtColor(warped, cv2.COLOR_BGRA2BGR), background, dst=roi)
        return region
