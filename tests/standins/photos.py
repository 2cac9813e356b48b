"""Real photos that ship inside installed packages, with their ground-truth faces.

Each function returns a `Scene`: a BGR uint8 frame (C-contiguous, like every frame in the app) and the faces
in it as `TruthFace` records (box x1, y1, x2, y2 and five points: left eye, right eye, nose, left mouth
corner, right mouth corner, "left" meaning image left, in image pixels).

- `t1()`: insightface's data/images/t1.jpg, 1280x886, six faces (hand-annotated, see faces_t1.json; a few px).
- `astronaut()`: scikit-image's astronaut.png, 512x512, one face (hand-annotated).
- `tom_hanks()`: insightface's data/images/Tom_Hanks_54745.png, a 112x112 crop already aligned, so its points
  are exactly insightface's `face_align.arcface_dst` (ArcFace alignment of it is the identity transform).

The frames are cached and returned read-only: copy before drawing on one.
"""

from __future__ import annotations

import functools
import json
import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

ANNOTATIONS = Path(__file__).with_name("faces_t1.json")


@dataclass(frozen=True)
class TruthFace:
    """One annotated face in image pixels."""

    name: str
    box: tuple[float, float, float, float]  # x1, y1, x2, y2
    points: np.ndarray  # (5, 2) float32

    def shifted(self, dx: float, dy: float) -> TruthFace:
        x1, y1, x2, y2 = self.box
        return TruthFace(
            self.name, (x1 + dx, y1 + dy, x2 + dx, y2 + dy), self.points + np.array([dx, dy], np.float32)
        )

    def scaled(self, s: float) -> TruthFace:
        return TruthFace(self.name, tuple(float(v) * s for v in self.box), self.points * np.float32(s))  # type: ignore[arg-type]


@dataclass(frozen=True)
class Scene:
    """A photo and its faces."""

    name: str
    image: np.ndarray  # H x W x 3 uint8 BGR
    faces: tuple[TruthFace, ...]


def insightface_image_path(name: str) -> Path:
    import insightface

    return Path(os.path.dirname(insightface.__file__)) / "data" / "images" / name


def _readonly(image: np.ndarray) -> np.ndarray:
    image = np.ascontiguousarray(image)
    image.setflags(write=False)
    return image


def _faces(key: str) -> tuple[TruthFace, ...]:
    data = json.loads(ANNOTATIONS.read_text())
    return tuple(
        TruthFace(f["name"], tuple(float(v) for v in f["box"]), np.asarray(f["points"], dtype=np.float32))  # type: ignore[arg-type]
        for f in data[key]
    )


@functools.cache
def t1() -> Scene:
    """insightface's t1.jpg: six people around a poker table, faces 90-115 px wide, two near profile."""
    image = cv2.imread(str(insightface_image_path("t1.jpg")), cv2.IMREAD_COLOR)
    if image is None:
        raise FileNotFoundError(insightface_image_path("t1.jpg"))
    return Scene("t1", _readonly(image), _faces("t1.jpg"))


@functools.cache
def astronaut() -> Scene:
    """scikit-image's astronaut (Eileen Collins), converted from RGB to BGR; one frontal face ~90 px wide."""
    import skimage.data

    image = cv2.cvtColor(skimage.data.astronaut(), cv2.COLOR_RGB2BGR)  # type: ignore[no-untyped-call]
    return Scene("astronaut", _readonly(image), _faces("astronaut.png"))


def arcface_points() -> np.ndarray:
    """insightface's ArcFace template points for a 112x112 crop."""
    from insightface.utils import face_align

    return np.asarray(face_align.arcface_dst, dtype=np.float32).copy()


@functools.cache
def tom_hanks() -> Scene:
    """insightface's Tom_Hanks_54745.png: an aligned 112x112 crop; points are exactly `arcface_dst`.

    The box is the points' bounding box grown like a detector's box (wider at the sides, forehead and chin),
    clipped to the image.
    """
    image = cv2.imread(str(insightface_image_path("Tom_Hanks_54745.png")), cv2.IMREAD_COLOR)
    if image is None:
        raise FileNotFoundError(insightface_image_path("Tom_Hanks_54745.png"))
    pts = arcface_points()
    x1, y1 = pts.min(axis=0)
    x2, y2 = pts.max(axis=0)
    w, h = x2 - x1, y2 - y1
    box = (
        float(max(0.0, x1 - 0.45 * w)),
        float(max(0.0, y1 - 0.75 * h)),
        float(min(111.0, x2 + 0.45 * w)),
        float(min(111.0, y2 + 0.45 * h)),
    )
    return Scene("tom_hanks", _readonly(image), (TruthFace("tom_hanks", box, pts),))


def all_scenes() -> list[Scene]:
    """The three photos, in a fixed order: t1, astronaut, Tom Hanks."""
    return [t1(), astronaut(), tom_hanks()]


def blank(width: int = 640, height: int = 480, value: int = 128) -> np.ndarray:
    """A flat grey frame: no face in it."""
    return np.full((height, width, 3), value, dtype=np.uint8)


def noise(width: int = 640, height: int = 480, seed: int = 0) -> np.ndarray:
    """Uniform noise: no face in it."""
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def place(
    image: np.ndarray,
    faces: tuple[TruthFace, ...] | list[TruthFace],
    size: tuple[int, int],
    offset: tuple[int, int],
    fill: int = 0,
) -> tuple[np.ndarray, list[TruthFace]]:
    """Paste `image` into a new frame of `size` (width, height) with its top-left corner at `offset` (x, y);
    parts outside the frame are cut off. Returns the frame and the faces moved with it (like a camera pan)."""
    w, h = size
    dx, dy = offset
    frame = np.full((h, w, 3), fill, dtype=np.uint8)
    ih, iw = image.shape[:2]
    sx0, sy0 = max(0, -dx), max(0, -dy)
    dx0, dy0 = max(0, dx), max(0, dy)
    cw = min(iw - sx0, w - dx0)
    ch = min(ih - sy0, h - dy0)
    if cw > 0 and ch > 0:
        frame[dy0 : dy0 + ch, dx0 : dx0 + cw] = image[sy0 : sy0 + ch, sx0 : sx0 + cw]
    return frame, [f.shifted(dx, dy) for f in faces]
