"""THE frame processor: frame in -> faces (tracked in a stream, detected in a still) -> swap -> restore ->
frame out, with milliseconds per stage.

Every front end's per-frame work goes through one of these: the live worker (app/live/runtime.py), a video
job (app/media), the API's endpoints and the desktop app's Photos tab. A stream gets a tracker, and maybe a
background detector, so that detection runs every few frames and faces keep their identity and do not
jitter; a still gets neither and is detected whole. A processor is used from one thread at a time.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from app.core.detection import BackgroundDetector, Detector
from app.core.engine import RESTORER_NOT_READY, select_faces
from app.core.options import RestoreOptions, SwapOptions
from app.core.tracker import Tracker
from app.core.types import Face, Frame

# Every stage is reported for every frame (0 when it did not run), so averages are per-frame costs.
STAGES = ("track", "detect", "swap", "paste", "restore")


class SwapResultLike(Protocol):
    @property
    def frame(self) -> Frame: ...

    @property
    def timings(self) -> Mapping[str, float]: ...


class FaceEngine(Protocol):
    """What a processor needs of app.core.engine.Engine."""

    def detect(self, frame: Frame, options: SwapOptions) -> list[Face]: ...

    def swap(self, frame: Frame, source: Any, faces: Sequence[Face], options: SwapOptions) -> SwapResultLike: ...

    def restore_into(self, out: Frame, faces: Sequence[Face], restore: RestoreOptions) -> None: ...

    def options_ready_now(self, options: SwapOptions) -> SwapOptions: ...


@dataclass(frozen=True, eq=False)
class ProcessedFrame:
    frame: Frame  # the output: a new array when a face was processed, else the input itself
    faces: tuple[Face, ...]  # the faces that were processed (in the input's coordinates)
    timings: dict[str, float] = field(default_factory=dict)  # ms per stage (STAGES) and "total"
    notes: tuple[str, ...] = ()  # things the user should know about this frame (said once by front ends)


class VideoFrames:
    """A processor bound to one source and options: called with each frame of a video and its time."""

    def __init__(self, processor: FrameProcessor, source: Any, options: SwapOptions) -> None:
        self.processor = processor
        self.source = source
        self.options = options

    def __call__(self, frame: Frame, seconds: float) -> Frame:
        return self.processor.process(frame, self.source, self.options, seconds).frame

    @property
    def frames_with_faces(self) -> int:
        return self.processor.frames_with_faces


class FrameProcessor:
    """Swaps (or, with `restore_only`, restores) the faces of each frame it is given.

    `tracker`: faces are tracked between detections (streams); None detects every frame (stills).
    `background`: scheduled detections run there (the live session's detector thread).
    `detect`: replaces the engine's detector (benchmarks, tests).
    `wait_for_restorer`: False in live, where a frame never waits for the restorer to load (minutes, the first
    time): until a front end has loaded it, frames go out unrestored, with a note.
    """

    def __init__(
        self,
        engine: FaceEngine,
        tracker: Tracker | None = None,
        background: BackgroundDetector | None = None,
        detect: Detector | None = None,
        restore_only: bool = False,
        wait_for_restorer: bool = True,
    ) -> None:
        self.engine = engine
        self.tracker = tracker
        self.background = background
        self._detect = detect
        self.restore_only = restore_only
        self.wait_for_restorer = wait_for_restorer
        self._detection_settings: tuple[int, float] | None = None
        self.frames = 0
        self.frames_with_faces = 0
        self.stage_totals: dict[str, float] = {}  # summed ms per stage, over every frame processed

    def process(self, frame: Frame, source: Any, options: SwapOptions, timestamp: float | None = None
                ) -> ProcessedFrame:
        """`frame` with its faces swapped for `source`'s (restored when `options` ask). Without a source (and
        unless restoring only) the frame passes through untouched. `timestamp` (seconds) is the frame's time in
        a stream; a tracker needs it."""
        t0 = time.perf_counter()
        timings = dict.fromkeys(STAGES, 0.0)
        notes: tuple[str, ...] = ()
        if not self.wait_for_restorer:
            ready = self.engine.options_ready_now(options)
            if ready is not options:
                notes = (RESTORER_NOT_READY,)
            options = ready
        out, faces = frame, tuple[Face, ...]()
        if source is not None or self.restore_only:
            found = self._faces(frame, options, timestamp, timings)
            if found:
                out = self._work(frame, source, found, options, timings)
                faces = tuple(found)
        timings["total"] = (time.perf_counter() - t0) * 1000.0
        self._count(faces, timings)
        return ProcessedFrame(out, faces, timings, notes)

    def video_frames(self, source: Any, options: SwapOptions) -> VideoFrames:
        """The per-frame function of a video job (app/media.process_video) over this processor."""
        return VideoFrames(self, source, options)

    # -- internals -------------------------------------------------------------------------------------------
    def _detector(self, options: SwapOptions) -> Detector:
        if self._detect is not None:
            return self._detect
        engine = self.engine

        def detect(frame: Frame) -> list[Face]:
            return engine.detect(frame, options)

        return detect

    def _faces(self, frame: Frame, options: SwapOptions, timestamp: float | None, timings: dict[str, float]
               ) -> list[Face]:
        detect = self._detector(options)
        if self.tracker is None:
            t0 = time.perf_counter()
            faces = select_faces(detect(frame), options)
            timings["detect"] = (time.perf_counter() - t0) * 1000.0
            return faces
        settings = (options.det_size, options.det_threshold)
        if self._detection_settings is not None and settings != self._detection_settings:
            self.tracker.request_detection()  # other detection settings: detect again at once
        self._detection_settings = settings
        faces = self.tracker.update(frame, 0.0 if timestamp is None else timestamp, detect, options.faces,
                                    self.background)
        timings.update(self.tracker.last_timings)
        return faces

    def _work(self, frame: Frame, source: Any, faces: list[Face], options: SwapOptions, timings: dict[str, float]
              ) -> Frame:
        if not self.restore_only:
            result = self.engine.swap(frame, source, faces, options)
            timings.update(result.timings)
            return result.frame
        out = frame.copy()
        if options.restore is not None:
            t0 = time.perf_counter()
            self.engine.restore_into(out, faces, options.restore)
            timings["restore"] = (time.perf_counter() - t0) * 1000.0
        return out

    def _count(self, faces: tuple[Face, ...], timings: Mapping[str, float]) -> None:
        self.frames += 1
        if faces:
            self.frames_with_faces += 1
        for key, ms in timings.items():
            self.stage_totals[key] = self.stage_totals.get(key, 0.0) + float(ms)
