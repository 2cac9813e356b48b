"""Shared types: a frame and a detected face (the user's choices are in app/core/options.py).

A frame is a numpy uint8 array, H x W x 3, BGR, C-contiguous. Conversions happen at the edges.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

Frame = npt.NDArray[np.uint8]
Points = npt.NDArray[np.float32]  # (5, 2): left eye, right eye, nose, left mouth corner, right mouth corner
Embedding = npt.NDArray[np.float32]  # (512,)
Matrix = npt.NDArray[np.float64]  # a 2x3 affine transform (alignment: frame -> crop)

@dataclass(frozen=True, eq=False)
class Face:
    """One detected face in frame coordinates."""

    box: tuple[float, float, float, float]  # x1, y1, x2, y2
    points: Points
    score: float
    embedding: Embedding | None = None

    @property
    def area(self) -> float:
        x1, y1, x2, y2 = self.box
        return max(0.0, x2 - x1) * max(0.0, y2 - y1)

    @property
    def center(self) -> tuple[float, float]:
        x1, y1, x2, y2 = self.box
        return (x1 + x2) / 2.0, (y1 + y2) / 2.0

    @property
    def eye_distance(self) -> float:
        return float(np.linalg.norm(self.points[1] - self.points[0]))

    @property
    def normed_embedding(self) -> Embedding | None:
        if self.embedding is None:
            return None
        norm = float(np.linalg.norm(self.embedding))
        return (self.embedding / norm).astype(np.float32) if norm > 0 else self.embedding

    def with_embedding(self, embedding: Embedding) -> Face:
        return replace(self, embedding=embedding)

    def with_points(self, points: Points) -> Face:
        """The same face moved to new five points; the box moves and scales with them."""
        old_c = self.points.mean(axis=0)
        new_c = points.mean(axis=0)
        old_s = float(np.linalg.norm(self.points - old_c)) or 1.0
        scale = float(np.linalg.norm(points - new_c)) / old_s
        x1, y1, x2, y2 = self.box
        box = (
            float(new_c[0] + (x1 - old_c[0]) * scale),
            float(new_c[1] + (y1 - old_c[1]) * scale),
            float(new_c[0] + (x2 - old_c[0]) * scale),
            float(new_c[1] + (y2 - old_c[1]) * scale),
        )
        return replace(self, box=box, points=points.astype(np.float32))
