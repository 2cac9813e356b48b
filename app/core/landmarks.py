"""insightface's 106-point landmarks (buffalo_l/2d106det.onnx) for the masks: the mouth and the face outline.

`landmarks_106` runs the model exactly as insightface's `Landmark.get` does: a 192 px crop centred on the
detection box with the box's longer side at 192 / 1.5 px, the model's own normalisation (the real file
normalises inside its graph, so insightface feeds raw RGB with mean 0 and std 1), and the output mapped
from the crop's -1..1 space back into the frame.

The index layout (insightface numbers its 106 points in its own order, image-left before image-right):
taken from the 106 -> 68 point conversion that several independent projects repeat, e.g. iperov/DeepFaceLive
modelhub/onnx/InsightFace2d106/InsightFace2D106.py (`_lmrk_fix`, which reorders insightface's points into
the iBUG 68 order followed by the rest), and consistent with the five-point subset [38, 88, 86, 52, 61]
(eye centres, nose tip, mouth corners) used to align faces from 2d106det output, and with Deep-Live-Cam's
mouth mask (modules/processors/frame/face_swapper.py, inner upper lip 65, 66, 62, 70, 69).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from app.core.types import Face, Frame, Matrix, Points
from app.errors import ModelError
from app.models import manifest

Landmarks = npt.NDArray[np.float32]  # (106, 2) frame pixels, insightface's order

NUM_POINTS = 106
# The face's outline, image-left top -> chin -> image-right top (iBUG jaw 0..16 are every other one of these).
CONTOUR = (1, 9, 10, 11, 12, 13, 14, 15, 16, 2, 3, 4, 5, 6, 7, 8, 0,
           24, 23, 22, 21, 20, 19, 18, 32, 31, 30, 29, 28, 27, 26, 25, 17)
BROW_LEFT = (43, 48, 49, 51, 50, 46, 47, 45, 44)  # upper edge outer -> inner, then the lower edge back
BROW_RIGHT = (102, 103, 104, 105, 101, 100, 99, 98, 97)
EYE_LEFT = (35, 41, 40, 42, 39, 37, 33, 36, 34)
EYE_RIGHT = (89, 95, 94, 96, 93, 91, 87, 90, 92)
PUPILS = (38, 88)
NOSE = (72, 73, 74, 86, 75, 76, 77, 78, 79, 80, 85, 84, 83, 82, 81)
# Lips as polygons in drawing order (iBUG 48..59 and 60..67): left corner, upper lip to the right corner,
# lower lip back. The outer polygon holds the lips and the opening between them.
LIPS_OUTER = (52, 64, 63, 71, 67, 68, 61, 58, 59, 53, 56, 55)
LIPS_INNER = (65, 66, 62, 70, 69, 57, 60, 54)
MOUTH_CORNERS = (52, 61)
FIVE_POINTS = (38, 88, 86, 52, 61)  # eyes, nose tip, mouth corners: the detector's five points

CROP_SIZE = 192
BOX_MARGIN = 1.5  # insightface: the crop spans 1.5x the box's longer side


class LandmarkModelMissing(ModelError):
    """The 106-point landmark model is not in the models folder: masks that need it are unavailable."""


def landmark_model_path(models_dir: Path) -> Path:
    return manifest.LANDMARK_2D.path_in(models_dir)


def missing_landmark_message(models_dir: Path) -> str | None:
    """What to tell the user when the landmark model is missing (None when it is there). The swap goes on
    without the masks that need it."""
    path = landmark_model_path(models_dir)
    if path.is_file():
        return None
    size = manifest.human_size(manifest.LANDMARK_2D.size)
    return (
        f"the mouth mask and the face-outline mask need {manifest.LANDMARK_2D.relpath} ({size}), which is "
        f"missing from {models_dir}. Swapping goes on without them."
    )


def check_landmark_model_present(models_dir: Path) -> None:
    """Raise LandmarkModelMissing (a ModelError) naming the file and the command that fetches it."""
    message = missing_landmark_message(models_dir)
    if message is not None:
        raise LandmarkModelMissing(message, fetch=(manifest.LANDMARK_2D.key,))


def check_landmarker(model: Any) -> None:
    """Refuse a loaded insightface `Landmark` that is not the 2D 106-point model (1k3d68.onnx also loads as
    `Landmark`, with 68 3D points)."""
    if getattr(model, "lmk_num", None) != NUM_POINTS or getattr(model, "lmk_dim", None) != 2:
        raise ModelError(
            f"{getattr(model, 'model_file', 'the landmark model')} is not insightface's 2D 106-point model "
            f"(it gives {getattr(model, 'lmk_num', '?')} points in {getattr(model, 'lmk_dim', '?')}D); "
            "replace it with the right file", fetch=(manifest.LANDMARK_2D.key,)
        )


def crop_transform(box: tuple[float, float, float, float], size: int = CROP_SIZE) -> Matrix:
    """insightface's face_align.transform(center, size, size / (1.5 * longer side), rotation 0): frame -> crop.
    (Written out: the library builds it from scikit-image transforms on every call.)"""
    x1, y1, x2, y2 = box
    scale = size / (max(x2 - x1, y2 - y1) * BOX_MARGIN)
    cx, cy = (x1 + x2) / 2.0, (y1 + y2) / 2.0
    return np.array([[scale, 0.0, size / 2.0 - cx * scale], [0.0, scale, size / 2.0 - cy * scale]], np.float64)


def landmarks_106(model: Any, frame: Frame, face: Face) -> Landmarks:
    """The 106 points of `face` in frame pixels, computed as insightface's Landmark.get does.

    `model` is the loaded insightface `Landmark` over 2d106det.onnx (see `check_landmarker`)."""
    size = int(model.input_size[0])
    matrix = crop_transform(face.box, size)
    crop = cv2.warpAffine(frame, matrix, (size, size), borderValue=0.0)
    mean, std = float(model.input_mean), float(model.input_std)
    blob = cv2.dnn.blobFromImage(crop, 1.0 / std, (size, size), (mean, mean, mean), swapRB=True)
    pred = model.session.run(model.output_names, {model.input_name: blob})[0][0]
    pred = np.asarray(pred, dtype=np.float64).reshape(-1, 2)[-NUM_POINTS:]
    pred = (pred + 1.0) * (size // 2)
    inv = cv2.invertAffineTransform(matrix)
    return np.asarray(pred @ inv[:, :2].T + inv[:, 2], dtype=np.float32)


def follow_landmarks(landmarks: Landmarks, from_points: Points, to_points: Points) -> Landmarks:
    """`landmarks` found with the five points `from_points`, moved to where the face now is (`to_points`):
    the similarity transform between the two sets of five points. For frames where the landmark model does
    not run (a tracker's in-between frames); the mouth's own motion is not followed."""
    matrix, _ = cv2.estimateAffinePartial2D(from_points.astype(np.float32), to_points.astype(np.float32),
                                            method=cv2.LMEDS)
    if matrix is None:
        return landmarks
    return np.asarray(landmarks.astype(np.float64) @ matrix[:, :2].T + matrix[:, 2], dtype=np.float32)


def to_crop(landmarks: Landmarks, matrix: Matrix) -> Landmarks:
    """Frame points into a crop's pixels, by the crop's frame -> crop affine `matrix`."""
    return np.asarray(landmarks.astype(np.float64) @ matrix[:, :2].T + matrix[:, 2], dtype=np.float32)
