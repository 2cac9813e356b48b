"""Shared types: a frame, a detected face, and the user's choices.

A frame is a numpy uint8 array, H x W x 3, BGR, C-contiguous. Conversions happen at the edges.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np
import numpy.typing as npt

from app.errors import OptionError

Frame = npt.NDArray[np.uint8]
Points = npt.NDArray[np.float32]  # (5, 2): left eye, right eye, nose, left mouth corner, right mouth corner
Embedding = npt.NDArray[np.float32]  # (512,)
Matrix = npt.NDArray[np.float64]  # a 2x3 affine transform (alignment: frame -> crop)

FaceChoice = Literal["all", "largest"]


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


def _check_range(name: str, value: float, low: float, high: float) -> None:
    if not (math.isfinite(value) and low <= value <= high):
        raise OptionError(f"{name} must be between {low} and {high}, got {value}")


@dataclass(frozen=True)
class RestoreOptions:
    """How a face is restored (GFPGAN). Each value is 0..1."""

    strength: float = 0.5  # how much of the restored face replaces the original
    denoise: float = 0.3
    sharpen: float = 0.2
    enhance_details: bool = True

    def __post_init__(self) -> None:
        _check_range("restore strength", self.strength, 0.0, 1.0)
        _check_range("denoise", self.denoise, 0.0, 1.0)
        _check_range("sharpen", self.sharpen, 0.0, 1.0)


@dataclass(frozen=True)
class SwapOptions:
    """Everything the user chooses about a swap. Built by the GUI, CLI and API alike; a worker takes a new
    object as a whole, so no thread ever reads half-changed settings."""

    faces: FaceChoice = "all"
    blend: float = 0.8  # how much of the swapped face is blended in
    color_correction: bool = True
    face_scale: float = 1.0
    restore: RestoreOptions | None = None  # None: no restoration
    det_size: int = 640
    det_threshold: float = 0.5

    def __post_init__(self) -> None:
        if self.faces not in ("all", "largest"):
            raise OptionError(f"faces must be 'all' or 'largest', got {self.faces!r}")
        _check_range("blend", self.blend, 0.0, 1.0)
        _check_range("face scale", self.face_scale, 0.5, 2.0)
        _check_range("detection threshold", self.det_threshold, 0.05, 0.99)
        if self.det_size < 64 or self.det_size % 32:
            raise OptionError(f"detection size must be a multiple of 32 and at least 64, got {self.det_size}")

    def replace(self, **changes: object) -> SwapOptions:
        return replace(self, **changes)  # type: ignore[arg-type]
