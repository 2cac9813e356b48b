"""inswapper_128: the source identity onto an aligned target crop."""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from app.core.similarity import similarity_fit
from app.core.types import Embedding, Frame, Matrix, Points

Latent = npt.NDArray[np.float32]  # (1, 512)

# ArcFace's five-point template in a 112x112 crop (eyes, nose tip, mouth corners): `arcface_dst` of insightface's
# python-package/insightface/utils/face_align.py (MIT-licensed code), in float32 as there so that alignment
# matrices agree with insightface's to the last bit (tests/core/test_engine.py compares them).
ARCFACE_DST = np.array(
    [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041]],
    dtype=np.float32,
)
ARCFACE_DST.setflags(write=False)


def source_latent(swapper: Any, embedding: Embedding) -> Latent:
    """latent = normed embedding @ emap, renormalised (insightface's INSwapper.get)."""
    normed = embedding / np.linalg.norm(embedding)
    latent = normed.reshape((1, -1)).astype(np.float32) @ np.asarray(swapper.emap, dtype=np.float32)
    latent /= np.linalg.norm(latent)
    return latent.astype(np.float32)


def template_points(size: int) -> npt.NDArray[np.float64]:
    """Where alignment puts the five points in a size x size crop: ArcFace's template, scaled for 112- or
    128-based crop sizes (insightface's estimate_norm)."""
    if size % 112 == 0:
        ratio, shift_x = size / 112.0, 0.0
    else:
        ratio = size / 128.0
        shift_x = 8.0 * ratio
    dst = ARCFACE_DST * ratio  # in float32, as insightface computes it
    dst[:, 0] += shift_x
    return np.asarray(dst, dtype=np.float64)


def alignment_matrix(points: Points, size: int) -> Matrix:
    """insightface's estimate_norm: the similarity (Umeyama) fit of the five points onto ArcFace's template,
    scaled for 112- or 128-based crop sizes. (Re-stated here because the library's version calls a
    scikit-image method that is deprecated and warns on every process, and costs ~0.1 ms per face.)"""
    try:
        return similarity_fit(points, template_points(size))  # the closed form of skimage's SimilarityTransform
    except ValueError:
        raise ValueError("degenerate face points") from None


def align_crop(frame: Frame, points: Points, size: int) -> tuple[Frame, Matrix]:
    """The face aligned as insightface's norm_crop2 does, and the frame->crop matrix."""
    matrix = alignment_matrix(points, size)
    crop = cv2.warpAffine(frame, matrix, (size, size), borderValue=0.0)
    return np.ascontiguousarray(crop), matrix


def swap_crop(swapper: Any, crop: Frame, latent: Latent) -> Frame:
    """Run the swap model on an aligned BGR crop; returns the swapped BGR crop of the same size. The engine's
    swappers bring their own swap_crop (onnxruntime's in app/core/ort_models.py, over an fp32, fp16 or int8 file,
    through IO binding; the torch backend's); any object with insightface's INSwapper attributes (session,
    input/output names, input size) runs the plain way here."""
    own = getattr(swapper, "swap_crop", None)
    if own is not None:
        return np.asarray(own(crop, latent), dtype=np.uint8)
    size = int(swapper.input_size[0])
    blob = cv2.dnn.blobFromImage(crop, 1.0 / 255.0, (size, size), (0.0, 0.0, 0.0), swapRB=True)
    inputs = swapper.session.get_inputs()
    half = [np.float16 if "float16" in i.type else np.float32 for i in inputs[:2]]  # an fp16 export's inputs
    pred = swapper.session.run(swapper.output_names, {swapper.input_names[0]: blob.astype(half[0]),
                                                      swapper.input_names[1]: latent.astype(half[1])})[0]
    rgb = pred[0].astype(np.float32).transpose(1, 2, 0)
    bgr = np.clip(255.0 * rgb, 0, 255).astype(np.uint8)[:, :, ::-1]
    return np.ascontiguousarray(bgr)
