"""Small ONNX stand-ins for the real model files, plus real photos with ground-truth faces.

See /work/shared/DESIGN.md, "Working without real weights". Builders write a file and return its path:

- `build_inswapper(path, seed=0)`: inswapper_128.onnx (inverted, source-tinted face; emap last initializer).
- `build_recognizer(path, seed=0)`: buffalo_l/w600k_r50.onnx (content-dependent 512-d embedding).
- `build_planted_detector(path, scenes, det_size=(640, 640), fixed_input=False)`: det_10g.onnx that returns
  exactly the planted faces for known images and nothing for anything else.
- `build_tracking_detector(path, image, faces, det_size=(640, 640))`: det_10g.onnx that follows content.
- `build_restorer(path)`: GFPGANv1.4.onnx (darkened, cooled face in the real export's [-1,1] contract).
- `build_landmarker(path)`: buffalo_l/2d106det.onnx (a fixed 106-point layout in the crop, shifted a little by
  the crop's brightness centroid; `landmark.expected_landmarks` says where the points land).
- `build_models_dir(root)`: a models folder laid out like the real one (used by the `standin_models_dir`
  fixture in tests/conftest.py).
- `build_tracking_scene(path)`: 640x360 "video" frames panning over t1.jpg plus a tracking detector for them
  (the `standin_tracking` fixture).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from tests.standins import photos
from tests.standins.detector import (
    OUTPUT_NAMES as DETECTOR_OUTPUT_NAMES,
)
from tests.standins.detector import (
    build_planted_detector,
    build_tracking_detector,
    letterbox,
    letterbox_blob,
)
from tests.standins.inswapper import build_inswapper, emap_for
from tests.standins.landmark import build_landmarker
from tests.standins.photos import Scene, TruthFace
from tests.standins.recognizer import build_recognizer
from tests.standins.restorer import build_restorer

__all__ = [
    "DETECTOR_OUTPUT_NAMES",
    "Scene",
    "TruthFace",
    "build_inswapper",
    "build_landmarker",
    "build_models_dir",
    "build_planted_detector",
    "build_recognizer",
    "build_restorer",
    "build_tracking_detector",
    "build_tracking_scene",
    "TrackingScene",
    "emap_for",
    "letterbox",
    "letterbox_blob",
    "photos",
]


def build_models_dir(root: str | Path, det_size: tuple[int, int] = (640, 640)) -> Path:
    """Build `<root>/inswapper_128.onnx`, `<root>/buffalo_l/det_10g.onnx` (planted with t1.jpg, astronaut and
    Tom Hanks at det_size), `<root>/buffalo_l/w600k_r50.onnx`, `<root>/buffalo_l/2d106det.onnx` and
    `<root>/GFPGANv1.4.onnx`; return root."""
    root = Path(root)
    build_inswapper(root / "inswapper_128.onnx")
    scenes = [(s.image, s.faces) for s in photos.all_scenes()]
    build_planted_detector(root / "buffalo_l" / "det_10g.onnx", scenes, det_size=det_size)
    build_recognizer(root / "buffalo_l" / "w600k_r50.onnx")
    build_landmarker(root / "buffalo_l" / "2d106det.onnx")
    build_restorer(root / "GFPGANv1.4.onnx")
    return root


@dataclass(frozen=True)
class TrackingScene:
    """Video-like frames: `content` (t1.jpg at half size, 640x443) seen through a `frame_size` window whose
    content sits at `base_offset` when not panned. `detector` was built on frame(0, 0)."""

    detector: Path
    content: np.ndarray
    content_faces: tuple[TruthFace, ...]
    frame_size: tuple[int, int] = (640, 360)
    base_offset: tuple[int, int] = (0, -30)
    det_size: tuple[int, int] = (640, 640)

    def frame(self, dx: int = 0, dy: int = 0) -> tuple[np.ndarray, list[TruthFace]]:
        """The frame with the content panned by (dx, dy) pixels, and the true faces in it."""
        ox, oy = self.base_offset
        return photos.place(self.content, self.content_faces, self.frame_size, (ox + dx, oy + dy))


def build_tracking_scene(path: str | Path, det_size: tuple[int, int] = (640, 640)) -> TrackingScene:
    """Build a tracking detector at `path` for 640x360 frames panning over t1.jpg (six faces ~50 px wide)."""
    scene = photos.t1()
    content = cv2.resize(scene.image, (640, 443))
    content.setflags(write=False)
    faces = tuple(f.scaled(0.5) for f in scene.faces)
    ts = TrackingScene(Path(path), content, faces, det_size=det_size)
    frame, frame_faces = ts.frame(0, 0)
    build_tracking_detector(path, frame, frame_faces, det_size=det_size)
    return ts
