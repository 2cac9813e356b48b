"""The probe inputs the torch backend checks itself on at load (fused vs generic, fp16 vs fp32, batching).

A real face makes the check meaningful (activations like the ones users' faces produce). insightface's wheel
ships `Tom_Hanks_54745.png`, a 112x112 ArcFace-aligned crop, and `t1.jpg`, a group photo: they are used when
insightface is installed (it is no run-time dependency: the tests and developers have it). Otherwise
scikit-image's astronaut (a base dependency) is the face, aligned by its hand-annotated five points; a smooth
synthetic picture stands in only if neither is there. Latents are seeded unit vectors mapped by the emap, as
INSwapper.get maps a real embedding.
"""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path

import cv2
import numpy as np

log = logging.getLogger(__name__)

# The astronaut's eyes, nose tip and mouth corners in skimage.data.astronaut() (512x512), annotated by hand like
# the test photos' faces (tests/standins/faces_t1.json).
ASTRONAUT_POINTS = np.array([[204.5, 100.5], [246.5, 103.0], [224.5, 125.0], [204.5, 141.0], [243.5, 142.0]],
                            dtype=np.float32)


def insightface_images() -> Path | None:
    """insightface's data/images folder when insightface is installed, found without importing it (its import
    pulls in onnxruntime's CPU package and more; the app never imports it)."""
    try:
        spec = importlib.util.find_spec("insightface")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "data" / "images"
    return folder if folder.is_dir() else None


def _insightface_image(name: str) -> np.ndarray | None:
    folder = insightface_images()
    if folder is None:
        return None
    image = cv2.imread(str(folder / name))
    return np.asarray(image) if image is not None and image.ndim == 3 else None


def _astronaut() -> np.ndarray | None:
    """scikit-image's astronaut as BGR (one frontal face), or None without scikit-image."""
    try:
        import skimage.data

        rgb = skimage.data.astronaut()  # type: ignore[no-untyped-call]
    except Exception:  # not installed, or a bundle without its data files
        return None
    return np.ascontiguousarray(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))


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
        astronaut = _astronaut()
        if astronaut is None:
            return _synthetic(size, size, 0)
        from app.core.swap import align_crop

        return align_crop(astronaut, ASTRONAUT_POINTS, size)[0]
    if size % 112 == 0:
        return cv2.resize(face, (size, size), interpolation=cv2.INTER_LINEAR)
    ratio = size / 128.0
    matrix = np.array([[ratio, 0.0, 8.0 * ratio], [0.0, ratio, 0.0]], np.float32)
    return cv2.warpAffine(face, matrix, (size, size), borderMode=cv2.BORDER_REFLECT)


def scene(height: int = 480, width: int = 640) -> np.ndarray:
    """A BGR frame with faces for detector checks: t1.jpg (six faces), else the astronaut (one)."""
    image = _insightface_image("t1.jpg")
    if image is None:
        image = _astronaut()
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
