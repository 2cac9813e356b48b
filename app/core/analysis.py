"""Face detection (SCRFD) and recognition (ArcFace) over the engine's model classes (app/core/ort_models.py, or the
torch backend's detector): the same detect() and get_feat() as insightface's."""

from __future__ import annotations

from typing import Any

import numpy as np

from app.core.swap import align_crop
from app.core.types import Embedding, Face, Frame


def detect_faces(detector: Any, frame: Frame, det_size: int = 640, threshold: float = 0.5) -> list[Face]:
    """Every face in `frame`, left to right (then top to bottom), so the order is deterministic.

    A detector with a fixed input shape keeps its own size (insightface honours it)."""
    boxes, points = detector.detect(frame, input_size=(det_size, det_size), det_thresh=threshold)
    faces = []
    for i in range(boxes.shape[0]):
        x1, y1, x2, y2, score = (float(v) for v in boxes[i])
        kps = np.ascontiguousarray(points[i], dtype=np.float32) if points is not None else _box_points(x1, y1, x2, y2)
        faces.append(Face(box=(x1, y1, x2, y2), points=kps, score=score))
    faces.sort(key=lambda f: (round(f.center[0]), round(f.center[1])))
    return faces


def _box_points(x1: float, y1: float, x2: float, y2: float) -> np.ndarray:
    """Five points guessed from a box, for detectors without keypoints (never the buffalo_l one)."""
    w, h = x2 - x1, y2 - y1
    rel = np.array([[0.34, 0.46], [0.66, 0.46], [0.5, 0.64], [0.37, 0.82], [0.63, 0.82]], dtype=np.float32)
    return (rel * np.array([w, h], dtype=np.float32) + np.array([x1, y1], dtype=np.float32)).astype(np.float32)


def largest_face(faces: list[Face]) -> Face | None:
    return max(faces, key=lambda f: f.area) if faces else None


def embed_face(recognizer: Any, frame: Frame, face: Face) -> Embedding:
    """The ArcFace embedding of `face`, computed exactly as insightface's ArcFaceONNX.get does."""
    crop, _ = align_crop(frame, face.points, int(recognizer.input_size[0]))
    feat = recognizer.get_feat(crop).flatten()
    return np.asarray(feat, dtype=np.float32)
