"""The probe inputs the torch backend checks itself on at load (fused vs generic, fp16 vs fp32, batching).

A real face makes the check meaningful (activations like the ones users' faces produce): insightface's wheel
ships `Tom_Hanks_54745.png`, a 112x112 ArcFace-aligned crop, and `t1.jpg`, a group photo. Without them (an
unusual install) a smooth synthetic picture stands in. Latents are seeded unit vectors mapped by the emap,
as INSwapper.get maps a real embedding.
"""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np

log = logging.getLogger(__name__)


def _insightface_image(name: str) -> np.ndarray | None:
    try:
        import insightface
    except ImportError:
        return None
    image = cv2.imread(str(Path(insightface.__file__).resolve().parent / "data" / "images" / name))
    return np.asarray(image) if image is not None and image.ndim == 3 else None


def _synthetic(height: int, width: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    base = 128 + 60 * np.sin(xx / 17.0)[..., None] * np.cos(yy / 23.0)[..., None] * np.array([1.0, 0.8, 0.6])
    noisy = base + rng.normal(0, 8, (height, width, 3))
    picture: np.ndarray = np.clip(noisy, 0, 255).astype(np.uint8)
    return picture


def face_crop(size: int) -> np.ndarray:
    """A size x size BGR uint8 face, aligned the way the model expects (ArcFace template, insightface's
    128-crop convention: the 112 template shifted by size/16 in x)."""
    face = _insightface_image("Tom_Hanks_54745.png")
    if face is None:
        return _synthetic(size, size, 0)
    if size % 112 == 0:
        return cv2.resize(face, (size, size), interpolation=cv2.INTER_LINEAR)
    ratio = size / 128.0
    matrix = np.array([[ratio, 0.0, 8.0 * ratio], [0.0, ratio, 0.0]], np.float32)
    return cv2.warpAffine(face, matrix, (size, size), borderMode=cv2.BORDER_REFLECT)


def scene(height: int = 480, width: int = 640) -> np.ndarray:
    """A BGR frame with faces (t1.jpg, six faces) for detector checks."""
    image = _insightface_image("t1.jpg")
    return image if image is not None else _synthetic(height, width, 1)


def latent(emap: np.ndarray, seed: int = 0) -> np.ndarray:
    """(1, 512) float32: a seeded unit 'embedding' through the emap, renormalised (INSwapper.get's mapping)."""
    rng = np.random.default_rng(seed)
    vector = rng.standard_normal((1, emap.shape[0])).astype(np.float32)
    vector /= np.linalg.norm(vector)
    mapped = vector @ emap.astype(np.float32)
    mapped /= np.linalg.norm(mapped)
    return mapped.astype(np.float32)


def rgb_blob(bgr: np.ndarray, scale: float = 1.0 / 255.0, shift: float = 0.0) -> np.ndarray:
    """[1,3,H,W] float32 RGB of a BGR image: value * scale + shift."""
    rgb = bgr[:, :, ::-1].astype(np.float32) * np.float32(scale) + np.float32(shift)
    return np.ascontiguousarray(rgb.transpose(2, 0, 1)[None])
