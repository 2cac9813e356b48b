"""THE frame processor: frame in -> faces (tracked in a stream, detected in a still) -> who gets which source
-> swap (masks, kept mouth) -> restore -> frame out, with milliseconds per stage.

Every front end's per-frame work goes through one of these: the live worker (app/live/runtime.py), a video
job (app/media), the API's endpoints and the desktop app's Photos tab. A stream gets a tracker, and maybe a
background detector, so that detection runs every few frames and faces keep their identity and do not
jitter; a still gets neither and is detected whole.

The source is one SourceFace (everyone gets it), or a FaceMap (app/core/face_map.py): mapped people get their
own source, recognised once per track in a stream (never per frame); the others follow the options (`others`:
the default source or left alone; `faces`: all or the largest). A processor is used from one thread at a time.

A live stream may also get a background swapper: then the options' `render` may make a frame fluid (app/core/
fluid.py: the swap runs beside, every frame is pasted with each person's most recent swap) instead of exact.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol, cast

from app.core.analysis import largest_face
from app.core.detection import BackgroundDetector, Detector
from app.core.engine import RESTORER_NOT_READY, Note, select_faces
from app.core.face_map import Assignment, FaceMap, TrackRecognizer, Unmatched
from app.core.fluid import BackgroundSwapper, FluidEngine, FluidStage, RenderInfo, can_render_fluid
from app.core.options import FaceChoice, RestoreOptions, SwapOptions
from app.core.tracker import Tracker
from app.core.types import Face, Frame

# Every stage is reported for every frame (0 when it did not run), so averages are per-frame costs.
STAGES = ("track", "detect", "recognize", "swap", "landmarks", "paste", "restore")


class SwapResultLike(Protocol):
    @property
    def frame(self) -> Frame: ...

    @property
    def timings(self) -> Mapping[str, float]: ...

    @property
    def notes(self) -> tuple[Note, ...]: ...


class FaceEngine(Protocol):
    """What a processor needs of app.core.engine.Engine."""

    def detect(self, frame: Frame, options: SwapOptions) -> list[Face]: ...

    def embed(self, frame: Frame, face: Face) -> Face: ...

    def swap(self, frame: Frame, faces: Sequence[Face], sources: Sequence[Any], options: SwapOptions
             ) -> SwapResultLike: ...

    def restore_into(self, out: Frame, faces: Sequence[Face], restore: RestoreOptions) -> None: ...

    def options_ready_now(self, options: SwapOptions) -> SwapOptions: ...


@dataclass(frozen=True)
class Person:
    """A face seen in a frame: where, the track that follows it (streams), and whom it was recognised as."""

    face: Face
    track_id: int | None = None
    mapped: str | None = None  # the mapped person's name; None: unmatched (or no mapping)


@dataclass(frozen=True, eq=False)
class ProcessedFrame:
    frame: Frame  # the output: a new array when a face was processed, else the input itself
    faces: tuple[Face, ...]  # the faces that were processed (in the input's coordinates)
    timings: dict[str, float] = field(default_factory=dict)  # ms per stage (STAGES) and "total"
    notes: tuple[Note, ...] = ()  # things the user should know about this frame (said once by front ends)
    people: tuple[Person, ...] = ()  # every face found in the input (processed or not), for a front end to show
    render: RenderInfo | None = None  # how a stream's frame was rendered (fluid or exact); None: nothing swapped


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
    `swapper`: with a tracker, the swap may run there while every frame is rendered fluid (options.render; the
    live session's swapper thread); `camera_fps` is the stream's rate, which `render="auto"` compares with.
    """

    def __init__(
        self,
        engine: FaceEngine,
        tracker: Tracker | None = None,
        background: BackgroundDetector | None = None,
        detect: Detector | None = None,
        restore_only: bool = False,
        wait_for_restorer: bool = True,
        swapper: BackgroundSwapper | None = None,
        camera_fps: float = 30.0,
    ) -> None:
        self.engine = engine
        self.tracker = tracker
        self.background = background
        self._detect = detect
        self.restore_only = restore_only
        self.wait_for_restorer = wait_for_restorer
        self._detection_settings: tuple[int, float] | None = None
        self.recognizer: TrackRecognizer[Any] = TrackRecognizer(self._embed)
        self._maps: tuple[FaceMap[Any], str, FaceMap[Any]] | None = None  # (given, others) -> the map used
        self.frames = 0
        self.frames_with_faces = 0
        self.stage_totals: dict[str, float] = {}  # summed ms per stage, over every frame processed
        self.notes: list[Note] = []  # every distinct note so far, in order (a job says each once)
        self.fluid: FluidStage | None = None
        if swapper is not None and tracker is not None and can_render_fluid(engine):
            self.fluid = FluidStage(cast(FluidEngine, engine), swapper, camera_fps)

    def process(self, frame: Frame, source: Any, options: SwapOptions, timestamp: float | None = None
                ) -> ProcessedFrame:
        """`frame` with its faces swapped (restored when `options` ask). `source`: a SourceFace for everyone, a
        FaceMap of people and their sources, or None (the frame passes through, unless restoring only).
        `timestamp` (seconds) is the frame's time in a stream; a tracker needs it."""
        t0 = time.perf_counter()
        timings = dict.fromkeys(STAGES, 0.0)
        notes: tuple[Note, ...] = ()
        if not self.wait_for_restorer:
            ready = self.engine.options_ready_now(options)
            if ready is not options:
                notes = (RESTORER_NOT_READY,)
            options = ready
        out, faces, people = frame, tuple[Face, ...](), tuple[Person, ...]()
        render: RenderInfo | None = None
        if self.restore_only:
            found = self._faces(frame, options, timestamp, timings)
            if found:
                out, faces = self._restore(frame, found, options, timings), tuple(found)
        elif source is not None:
            chosen, people = self._assignments(frame, source, options, timestamp, timings)
            fluid = self.fluid
            if fluid is not None and fluid.mode(options, len(chosen)) == "fluid":
                out, fluid_notes, render = fluid.render(frame, chosen, [p.track_id for p in people], options,
                                                        self.frames, 0.0 if timestamp is None else timestamp, timings)
                notes += fluid_notes
                faces = tuple(a.face for a in chosen)
            elif chosen:
                faces = tuple(a.face for a in chosen)
                result = self.engine.swap(frame, faces, [a.source for a in chosen], options)
                timings.update(result.timings)
                out, notes = result.frame, notes + tuple(result.notes)
                if fluid is not None:
                    fluid.measured_exact(timings, len(faces))
                render = RenderInfo("exact", len(faces), face_age_s=0.0, updated=len(faces),
                                    swap_ms_per_face=timings.get("swap", 0.0) / len(faces))
        timings["total"] = (time.perf_counter() - t0) * 1000.0
        self._count(faces, timings)
        self.notes += [n for n in notes if n not in self.notes]
        return ProcessedFrame(out, faces, timings, notes, people, render)

    def video_frames(self, source: Any, options: SwapOptions) -> VideoFrames:
        """The per-frame function of a video job (app/media.process_video) over this processor."""
        return VideoFrames(self, source, options)

    # -- which faces, and whose source -----------------------------------------------------------------------
    def _detector(self, options: SwapOptions) -> Detector:
        if self._detect is not None:
            return self._detect
        engine = self.engine

        def detect(frame: Frame) -> list[Face]:
            return engine.detect(frame, options)

        return detect

    def _embed(self, frame: Frame, face: Face) -> Any:
        return self.engine.embed(frame, face).embedding

    def _faces(self, frame: Frame, options: SwapOptions, timestamp: float | None, timings: dict[str, float],
               choice: FaceChoice | None = None) -> list[Face]:
        """The faces to work on: tracked (streams) or detected (stills), all or the largest (`choice`, default
        the options')."""
        detect = self._detector(options)
        faces_choice = options.faces if choice is None else choice
        if self.tracker is None:
            t0 = time.perf_counter()
            found = detect(frame)
            timings["detect"] = (time.perf_counter() - t0) * 1000.0
            return found if faces_choice == "all" else select_faces(found, options)
        settings = (options.det_size, options.det_threshold)
        if self._detection_settings is not None and settings != self._detection_settings:
            self.tracker.request_detection()  # other detection settings: detect again at once
        self._detection_settings = settings
        found = self.tracker.update(frame, 0.0 if timestamp is None else timestamp, detect, faces_choice,
                                    self.background)
        timings.update(self.tracker.last_timings)
        return found

    def _face_map(self, given: FaceMap[Any], options: SwapOptions) -> FaceMap[Any]:
        """`given` with the options' choice for the people it does not map (kept while neither changes, so a
        stream's recognised tracks are not matched again)."""
        if self._maps is not None and self._maps[0] is given and self._maps[1] == options.others:
            return self._maps[2]
        unmatched: Unmatched = "default" if options.others == "swap" else "keep"
        used = given if given.unmatched == unmatched else replace(given, unmatched=unmatched)
        self._maps = (given, options.others, used)
        return used

    def _assignments(self, frame: Frame, source: Any, options: SwapOptions, timestamp: float | None,
                     timings: dict[str, float]) -> tuple[list[Assignment[Any]], tuple[Person, ...]]:
        """Who is swapped with which source, and everyone seen (with their tracks, in a stream)."""
        if not isinstance(source, FaceMap) or not source.people:
            default = source.default if isinstance(source, FaceMap) else source
            keep = default is None or (isinstance(source, FaceMap) and options.others == "keep")
            found = self._faces(frame, options, timestamp, timings, choice="all" if keep else None)
            people = self._people(found, options)
            if keep:
                return [], people
            return [Assignment(p.face, default, None, -1.0, p.track_id) for p in people], people
        face_map = self._face_map(source, options)
        found = self._faces(frame, options, timestamp, timings, choice="all")
        t0 = time.perf_counter()
        if self.tracker is None:
            chosen = face_map.assign(frame, found, self._embed)
            target = largest_face([a.face for a in chosen if a.person is None])

            def wanted(a: Assignment[Any]) -> bool:
                return options.faces == "all" or a.face is target
        else:
            chosen = self.recognizer.assign(face_map, frame, self.tracker.tracked())
            target_id = self.tracker.target_id

            def wanted(a: Assignment[Any]) -> bool:
                return options.faces == "all" or a.track_id == target_id
        timings["recognize"] = (time.perf_counter() - t0) * 1000.0
        people = tuple(Person(a.face, a.track_id, a.person) for a in chosen)
        # Mapped people are always swapped; the others follow `others` (in the map) and `faces`.
        return [a for a in chosen if a.source is not None and (a.person is not None or wanted(a))], people

    def _people(self, faces: list[Face], options: SwapOptions) -> tuple[Person, ...]:
        """The faces with their track ids (the tracker returns them in track order; one face: the target)."""
        if self.tracker is None:
            return tuple(Person(face) for face in faces)
        if options.faces == "largest" and len(faces) == 1:
            return (Person(faces[0], self.tracker.target_id),)
        return tuple(Person(face, track_id) for (track_id, _), face in zip(self.tracker.tracked(), faces,
                                                                           strict=False))

    # -- the work --------------------------------------------------------------------------------------------
    def _restore(self, frame: Frame, faces: list[Face], options: SwapOptions, timings: dict[str, float]) -> Frame:
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
