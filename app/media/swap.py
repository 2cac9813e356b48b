"""The frame processor of a video swap: faces followed by the live tracker, then swapped (and restored when
the options ask for it) by the engine."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from app.core.engine import Engine, SourceFace
from app.core.tracker import Tracker, TrackerConfig
from app.core.types import Face, Frame, SwapOptions

log = logging.getLogger(__name__)


class TrackedSwap:
    """Called once per frame, in order, from one thread. The tracker keeps each face's identity from frame
    to frame, so with faces='largest' the same person stays swapped, and the points are smoothed, so the
    swapped face does not jitter. `detect` replaces the engine's detector (benchmarks, tests)."""

    def __init__(
        self,
        engine: Engine,
        source: SourceFace,
        options: SwapOptions,
        tracker: Tracker | None = None,
        detect: Callable[[Frame], list[Face]] | None = None,
    ) -> None:
        self.engine = engine
        self.source = source
        self.options = options
        self.tracker = tracker or Tracker(TrackerConfig())
        self._detect = detect
        self.frames = 0
        self.frames_with_faces = 0
        self.timings: dict[str, float] = {}  # summed ms per stage

    def detect(self, frame: Frame) -> list[Face]:
        if self._detect is not None:
            return self._detect(frame)
        return self.engine.detect(frame, self.options)

    def __call__(self, frame: Frame, seconds: float) -> Frame:
        faces = self.tracker.update(frame, seconds, self.detect, self.options.faces)
        self._add(self.tracker.last_timings)
        self.frames += 1
        if not faces:
            return frame
        self.frames_with_faces += 1
        result = self.engine.swap(frame, self.source, faces, self.options)
        self._add(result.timings)
        return result.frame

    def _add(self, timings: dict[str, float] | Any) -> None:
        for key, ms in timings.items():
            self.timings[key] = self.timings.get(key, 0.0) + float(ms)
