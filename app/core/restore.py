"""Face restoration with GFPGAN v1.4 (onnxruntime), plus the original backend's finishing controls.

Each face is aligned to the FFHQ 512 five-point template, restored, finished (denoise before, sharpen and
detail enhancement after), and blended back inside the face's region only, as the swap's paste-back does.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import cv2
import numpy as np

from app.core.options import RestoreOptions
from app.core.paste import FacePaster
from app.core.types import Face, Frame, Matrix, Points

SIZE = 512
# Five points of an aligned FFHQ face at 512x512 (the template GFPGAN was trained with, via facexlib).
FFHQ_512 = np.array(
    [[192.98138, 239.94708], [318.90277, 240.1936], [256.63416, 314.01935],
     [201.26117, 371.41043], [313.08905, 371.15118]],
    dtype=np.float32,
)


def ffhq_matrix(points: Points) -> Matrix:
    """The frame -> crop matrix that puts the five points on the FFHQ 512 template (as facexlib fits it)."""
    matrix, _ = cv2.estimateAffinePartial2D(points.astype(np.float32), FFHQ_512, method=cv2.LMEDS)
    if matrix is None:  # degenerate points: fall back to a least-squares fit
        matrix, _ = cv2.estimateAffinePartial2D(points.astype(np.float32), FFHQ_512, method=0)
    return np.asarray(matrix, dtype=np.float64)


def align_ffhq(frame: Frame, points: Points) -> tuple[Frame, Matrix]:
    """The face warped onto the FFHQ 512 template (as facexlib aligns for GFPGAN), and the frame->crop matrix."""
    matrix = ffhq_matrix(points)
    crop = cv2.warpAffine(frame, matrix, (SIZE, SIZE), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT101)
    return np.asarray(crop, dtype=np.uint8), matrix


def run_gfpgan(session: Any, crop: Frame) -> Frame:
    """One aligned 512x512 BGR crop through the network ([-1, 1] RGB in and out). `session` is onnxruntime's,
    or the torch backend's restorer, which brings its own restore_crop."""
    own = getattr(session, "restore_crop", None)
    if own is not None:
        return np.asarray(own(crop), dtype=np.uint8)
    rgb = cv2.cvtColor(crop, cv2.COLOR_BGR2RGB).astype(np.float32)
    blob = (rgb / 127.5 - 1.0).transpose(2, 0, 1)[None]
    inp = session.get_inputs()[0].name
    out = session.run(None, {inp: np.ascontiguousarray(blob)})[0][0]
    rgb_out = np.clip((out.transpose(1, 2, 0) + 1.0) * 127.5 + 0.5, 0, 255).astype(np.uint8)
    return np.ascontiguousarray(cv2.cvtColor(rgb_out, cv2.COLOR_RGB2BGR))


def denoise(crop: Frame, amount: float, scale: float = 1.0) -> Frame:
    """Edge-preserving smoothing at the face's size in the frame (`scale` crop pixels per frame pixel), where
    the noise lives: the crop is filtered at frame resolution and brought back (0 = untouched)."""
    if amount <= 0.0:
        return crop
    size = crop.shape[0]
    small_size = max(32, int(round(size / max(scale, 1.0))))
    small = cv2.resize(crop, (small_size, small_size), interpolation=cv2.INTER_AREA) if small_size < size else crop
    filtered = small
    for _ in range(1 + int(amount * 3)):  # repeated small bilateral passes: strong yet cheap
        filtered = cv2.bilateralFilter(filtered, d=5, sigmaColor=10.0 + 70.0 * amount,
                                       sigmaSpace=1.5 + 2.0 * amount)
    if filtered.shape[0] != size:
        # The crop is itself an enlargement of the frame, so nothing finer than frame resolution is lost.
        filtered = cv2.resize(filtered, (size, size), interpolation=cv2.INTER_CUBIC)
    return np.ascontiguousarray(filtered)


def sharpen(crop: Frame, amount: float, scale: float = 1.0) -> Frame:
    """Unsharp mask at the face's size in the frame: adds `amount` x 1.5 of the detail finer than about one
    frame pixel back (0 = untouched)."""
    if amount <= 0.0:
        return crop
    blurred = cv2.GaussianBlur(crop, (0, 0), sigmaX=1.2 * max(scale, 1.0))
    k = 1.5 * amount
    return np.ascontiguousarray(cv2.addWeighted(crop, 1.0 + k, blurred, -k, 0))


def enhance_details(crop: Frame) -> Frame:
    """Local contrast (CLAHE on lightness) so skin texture, eyes and hair read more clearly."""
    lab = cv2.cvtColor(crop, cv2.COLOR_BGR2LAB)
    clahe = cv2.createCLAHE(clipLimit=1.6, tileGridSize=(8, 8))
    lab[:, :, 0] = clahe.apply(lab[:, :, 0])
    return np.ascontiguousarray(cv2.cvtColor(lab, cv2.COLOR_LAB2BGR))


def restore_crop(session: Any, crop: Frame, options: RestoreOptions, scale: float = 1.0) -> Frame:
    """Restore an aligned crop; `scale` is crop pixels per frame pixel, so the finishing filters act at the
    size the face will have in the frame."""
    restored = run_gfpgan(session, denoise(crop, options.denoise, scale))
    if options.enhance_details:
        restored = enhance_details(restored)
    return sharpen(restored, options.sharpen, scale)


def restore_faces(session: Any, frame: Frame, faces: Sequence[Face], options: RestoreOptions,
                  out: Frame | None = None, paster: FacePaster | None = None) -> Frame:
    """Restore each face of `frame`; writes into `out` (a copy of frame when None) and returns it.

    `strength` is how much of the restored face replaces the original (the paste-back's blend)."""
    target = frame.copy() if out is None else out
    paster = paster or FacePaster(SIZE)
    for face in faces:
        crop, matrix = align_ffhq(target, face.points)
        scale = float(np.sqrt(abs(np.linalg.det(matrix[:, :2]))))
        restored = restore_crop(session, crop, options, scale)
        paster.paste(target, restored, matrix, blend=options.strength)
    return target
