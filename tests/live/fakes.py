"""Stand-ins for the engine in hand-off tests: a worker of fixed cost that marks what it swapped."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from app.core.options import SwapOptions
from app.core.types import Face, Frame


@dataclass(frozen=True)
class FakeResult:
    frame: Frame
    faces: Sequence[Face]
    timings: dict[str, float] = field(default_factory=dict)
    notes: tuple[object, ...] = ()


class SlowEngine:
    """detect() finds one face mid-frame; swap() takes `cost_s` and paints the face box red."""

    def __init__(self, cost_s: float = 0.1) -> None:
        self.cost_s = cost_s
        self.options_seen: list[SwapOptions] = []
        self.lock = threading.Lock()

    def detect(self, frame: Frame, options: SwapOptions) -> list[Face]:
        h, w = frame.shape[:2]
        cx, cy, s = w / 2, h / 2, min(w, h) / 6
        pts = np.array(
            [
                [cx - s / 2, cy - s / 3],
                [cx + s / 2, cy - s / 3],
                [cx, cy],
                [cx - s / 3, cy + s / 2],
                [cx + s / 3, cy + s / 2],
            ],
            np.float32,
        )
        return [Face((cx - s, cy - s, cx + s, cy + s), pts, 0.9)]

    def prepare_source(self, image: Frame) -> Any:
        return "source-face"

    def options_ready_now(self, options: SwapOptions) -> SwapOptions:
        return options if options.restore is None else options.replace(restore=None)  # as if not loaded yet

    def restore_into(self, out: Frame, faces: Sequence[Face], restore: object) -> None:
        raise AssertionError("the hand-off tests never restore")

    def embed(self, frame: Frame, face: Face) -> Face:
        raise AssertionError("the hand-off tests map no people")

    def swap(self, frame: Frame, faces: Sequence[Face], sources: Sequence[Any], options: SwapOptions) -> FakeResult:
        t0 = time.perf_counter()
        with self.lock:
            self.options_seen.append(options)
        time.sleep(self.cost_s)
        out = frame.copy()
        for face in faces:
            x1, y1, x2, y2 = (int(v) for v in face.box)
            out[max(0, y1) : y2, max(0, x1) : x2] = (0, 0, 255)
        return FakeResult(out, faces, {"swap": (time.perf_counter() - t0) * 1000.0})


class FakeVirtualCamera:
    """A pyvirtualcam backend standing in for a v4l2loopback/OBS device (none exists here): it keeps what
    pyvirtualcam hands it, a 1-D RGB buffer per frame."""

    instances: list[FakeVirtualCamera] = []

    def __init__(self, *, width: int, height: int, fps: float, fourcc: int, device: str | None, **kw: Any) -> None:
        self.width, self.height, self.fps, self.fourcc = width, height, fps, fourcc
        self.frames: list[np.ndarray] = []
        self.closed = False
        FakeVirtualCamera.instances.append(self)

    def send(self, frame: np.ndarray) -> None:
        self.frames.append(frame.copy())

    def close(self) -> None:
        self.closed = True

    def device(self) -> str:
        return "Fake Camera"

    def native_fourcc(self) -> int | None:
        return self.fourcc


class MissingVirtualCamera:
    """A backend whose device is not there, as on a machine without a virtual camera driver."""

    def __init__(self, **kw: Any) -> None:
        raise RuntimeError("device not found")


def wait_until(condition: Callable[[], bool], timeout: float = 30.0, step: float = 0.02) -> bool:
    """Poll `condition` until it holds or `timeout` seconds pass; returns whether it held. Tests wait for events
    and counts this way, never for a fixed time, so a loaded machine makes them slower, not wrong."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(step)
    return True
