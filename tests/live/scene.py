"""A known scene for tracking tests: insightface's t1.jpg moved along a known path with sensor noise, and a
detector that returns the true five points plus jitter."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import insightface
import numpy as np
import numpy.typing as npt

from app.core.detection import DetectionResult, Detector
from app.core.tracker import Tracker
from app.core.types import Face, Frame
from tests.standins import photos

T1 = Path(insightface.__file__).parent / "data" / "images" / "t1.jpg"

# The annotated faces of t1.jpg (tests/standins/faces_t1.json) that stay in view along the test paths.
TRUE_FACES = [f for f in photos.t1().faces if f.name != "rachel"]
BASE_POINTS = np.array([f.points for f in TRUE_FACES], dtype=np.float64)
BASE_BOXES = np.array([f.box for f in TRUE_FACES], dtype=np.float64)


def load_t1() -> Frame:
    image = cv2.imread(str(T1))
    assert image is not None, T1
    return np.ascontiguousarray(image[:560])  # every face used here is in the top 560 rows


def box_of(points: npt.NDArray[np.float64]) -> tuple[float, float, float, float]:
    """A face box around five points, sized the way detectors size it relative to the eyes and mouth."""
    c = points.mean(axis=0)
    s = float(np.linalg.norm(points[1] - points[0])) * 1.3
    return (float(c[0] - s), float(c[1] - s * 1.15), float(c[0] + s), float(c[1] + s * 1.05))


@dataclass
class Scene:
    image: Frame
    offsets: npt.NDArray[np.float64]  # (frames, 2): the true shift of each frame
    noise: float = 2.0  # sensor noise, grey levels
    seed: int = 0

    def __post_init__(self) -> None:
        self._bank: list[npt.NDArray[np.int16]] = []

    def _noise(self, shape: tuple[int, ...]) -> list[npt.NDArray[np.int16]]:
        """Eight sensor-noise fields used in turn (fresh noise per frame costs more than tracking)."""
        if not self._bank or self._bank[0].shape != shape:
            cv2.setRNGSeed(self.seed)
            self._bank = []
            for _ in range(8):
                noise = np.empty(shape, np.int16)
                cv2.randn(noise, 0, self.noise)
                self._bank.append(noise)
        return self._bank

    def frame(self, i: int) -> Frame:
        tx, ty = self.offsets[i]
        m = np.array([[1, 0, tx], [0, 1, ty]], dtype=np.float64)
        h, w = self.image.shape[:2]
        moved = cv2.warpAffine(self.image, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        noisy = moved.astype(np.int16) + self._noise(moved.shape)[i % len(self._bank)]
        return np.ascontiguousarray(np.clip(noisy, 0, 255).astype(np.uint8))

    def truth(self, i: int) -> npt.NDArray[np.float64]:
        """(faces, 5, 2) true points in frame i."""
        return BASE_POINTS + self.offsets[i]


class JitterDetector:
    """The true faces with a few px of jitter: a shared shift plus per-point noise, like a detector."""

    def __init__(
        self, scene: Scene, sigma: float = 2.0, seed: int = 1, sizes: list[float] | None = None
    ) -> None:
        self.scene = scene
        self.sigma = sigma
        self.rng = np.random.default_rng(seed)
        self.index = 0  # the frame the caller is on
        self.calls = 0
        self.raw: dict[int, npt.NDArray[np.float64]] = {}

    def __call__(self, frame: Frame) -> list[Face]:
        self.calls += 1
        truth = self.scene.truth(self.index)
        shared = self.rng.normal(0, self.sigma / np.sqrt(2), (truth.shape[0], 1, 2))
        own = self.rng.normal(0, self.sigma / np.sqrt(2), truth.shape)
        pts = truth + shared + own
        self.raw[self.index] = pts
        boxes = BASE_BOXES + np.tile(self.scene.offsets[self.index], 2) + np.tile(shared[:, 0], 2)
        return [
            Face(box=tuple(float(v) for v in b), points=p.astype(np.float32), score=0.9)  # type: ignore[arg-type]
            for b, p in zip(boxes, pts, strict=True)
        ]


def still_then_moving(
    still: int = 60, moving: int = 60, speed: float = 4.0, angle_deg: float = 190.0
) -> npt.NDArray[np.float64]:
    """Offsets: a still face (at a sub-pixel position), then a constant speed in px/frame."""
    start = np.array([0.37, 0.61])
    d = np.array([np.cos(np.radians(angle_deg)), np.sin(np.radians(angle_deg))])
    steps = [start] * still + [start + d * speed * (k + 1) for k in range(moving)]
    return np.array(steps, dtype=np.float64)


@dataclass
class TrackRun:
    truth: npt.NDArray[np.float64]  # (frames, faces, 5, 2)
    out: npt.NDArray[np.float64]  # what the tracker returned
    raw: npt.NDArray[np.float64]  # a detection of every frame, for comparison
    ids: list[list[int]]


class DelayedDetector:
    """A background detector whose answer comes exactly `delay` frames (polls) after the request, for the
    frame requested: deterministic stand-in for app.live.async_detect.AsyncDetector."""

    def __init__(self, delay: int) -> None:
        self.delay = delay
        self.pending: list[tuple[int, DetectionResult]] = []  # (polls left, result)
        self.submitted: list[int] = []
        self.delivered: list[tuple[int, int]] = []  # (frame detected, polls it took)

    @property
    def busy(self) -> bool:
        return bool(self.pending)

    def submit(self, frame: Frame, seq: int, timestamp: float, detect: Detector) -> None:
        self.submitted.append(seq)
        self.pending = [(self.delay, DetectionResult(detect(frame), seq, timestamp, 0.0))]

    def poll(self) -> DetectionResult | None:
        self.pending = [(n - 1, r) for n, r in self.pending]
        if self.pending and self.pending[0][0] <= 0:
            result = self.pending.pop(0)[1]
            self.delivered.append((result.seq, self.delay))
            return result
        return None


def run_tracker(
    scene: Scene,
    tracker: Tracker,
    detector: JitterDetector,
    raw: JitterDetector,
    background: DelayedDetector | None = None,
) -> TrackRun:
    """Feed every frame of the scene at 30 fps; faces come back in track order."""
    outs, raws, ids = [], [], []
    for i in range(len(scene.offsets)):
        detector.index = raw.index = i
        faces = tracker.update(scene.frame(i), i / 30.0, detector, "all", background)
        outs.append(np.array([f.points for f in faces], dtype=np.float64))
        raws.append(np.array([f.points for f in raw(scene.image)], dtype=np.float64))
        ids.append(tracker.track_ids())
    truth = np.array([scene.truth(i) for i in range(len(scene.offsets))])
    return TrackRun(truth, np.array(outs), np.array(raws), ids)


def wander(errors: npt.NDArray[np.float64]) -> float:
    """RMS distance of points from their own mean position over time (how much a still face wanders)."""
    return float(np.sqrt(((errors - errors.mean(axis=0)) ** 2).sum(-1).mean()))
