"""Fluid live rendering: every camera frame goes out, each person pasted with their most recent swap.

Where the swap model is slower than the camera (a CPU: about 2.3 s per face), the exact render shows a new
picture only when a swap is done. The fluid render splits the work the way the engine does (Engine.swap_crops,
then Engine.paste_swaps): the swap runs beside the live worker on the newest frame whenever the swapper is
free (a BackgroundSwapper: app/live/fluid.py, one request waiting at most), and what it makes, the swapped face
in its aligned space, is kept per tracked person with the source it was made for (SwapKeeper). Every frame the
worker tracks the faces (cheap) and pastes each person's kept swap where the tracker puts their five points
now, with colour correction against this frame: position, turn and size follow the camera, the expression
follows the swap.

What keeps a kept face honest:
- it belongs to its track and its source: another person (a new track) or another source (a new map, a new
  source photo) never gets it; until a person's first swap is ready they are shown as they are, or blurred
  (`options.until_swapped`);
- the similarity that carries it to the face's new five points cannot turn a face in depth, so how far the
  five points' shape changed since its frame (shape_change: the residual of a similarity fit, per eye
  distance) fades it out (FadeConfig) to what a new person is shown as, until a fresh swap comes;
- `render="auto"` is fluid while swapping the faces of a frame takes longer than two camera frames.

Masks that need the 106 landmarks (the kept mouth, the face outline) get them on the current frame when the
landmark model is cheap enough (its measured cost for the faces fits a quarter of a camera frame: a GPU), else
the ones found on the swap's frame (on the swapper's thread) are followed to the face's current five points
(follow_landmarks), as on this CPU, where the model costs several ms a face. Either way the kept mouth shows the
current frame's own mouth, so it moves at the camera's rate; following only misses the mouth's change of shape
since the swap, which the mask's margin mostly covers.
Restoration, when on, runs on the swapper's thread on the swapped face, which is then kept at the restorer's
size in the same alignment; the render stays a paste.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, Literal, Protocol

import numpy as np

from app.core.engine import Note, SwappedFace
from app.core.face_map import Assignment
from app.core.fluid_look import FadeConfig, blur_faces, follow_weight, shape_change
from app.core.landmarks import Landmarks, follow_landmarks
from app.core.options import RestoreOptions, SwapOptions
from app.core.swap import align_crop
from app.core.types import Face, Frame

RenderMode = Literal["exact", "fluid"]


class FluidEngine(Protocol):
    """What a fluid render needs of app.core.engine.Engine (a device backend implements the same calls)."""

    def swap_crops(self, frame: Frame, faces: Sequence[Face], sources: Sequence[Any]) -> list[SwappedFace]: ...

    def paste_swaps(self, frame: Frame, swaps: Sequence[SwappedFace], options: SwapOptions,
                    faces: Sequence[Face] | None = None, landmarks: Sequence[Landmarks | None] | None = None,
                    blends: Sequence[float] | None = None) -> tuple[Frame, dict[str, float], tuple[Note, ...]]: ...

    def landmarks(self, frame: Frame, face: Face) -> Landmarks: ...

    def landmarks_missing(self) -> Note | None: ...

    def restore_into(self, out: Frame, faces: Sequence[Face], restore: RestoreOptions) -> None: ...


def can_render_fluid(engine: object) -> bool:
    """Whether `engine` splits its swap into swap_crops and paste_swaps (a fluid render needs both)."""
    return all(callable(getattr(engine, name, None)) for name in ("swap_crops", "paste_swaps"))


@dataclass(frozen=True, eq=False)
class KeptSwap:
    """A person's most recent swap: what the swapper made of their face on frame `seq`."""

    swap: SwappedFace  # the crop in the face's aligned space, the face then, and the source it carries
    track_id: int
    seq: int  # the frame it was made from (the processor's count)
    captured_at: float  # that frame's time, seconds
    landmarks: Landmarks | None = None  # the face's 106 points on that frame, when the masks need them


@dataclass(frozen=True, eq=False)
class SwapBatch:
    """What one background swap job gives back."""

    kept: tuple[KeptSwap, ...] = ()
    ms: float = 0.0  # the job's swap (and restore) time
    faces: int = 0
    landmark_ms: float | None = None  # per face, when the landmarks were found
    notes: tuple[Note, ...] = ()
    epoch: int = 0  # the render's epoch when it was asked for (older ones are not kept)
    error: BaseException | None = None  # the job failed: the worker raises it


SwapJob = Callable[[], SwapBatch]


class BackgroundSwapper(Protocol):
    """Runs swap jobs beside the worker: one at a time, a newer request replacing one not yet started."""

    @property
    def busy(self) -> bool: ...

    def submit(self, job: SwapJob) -> None: ...

    def poll(self) -> SwapBatch | None: ...


class SwapKeeper:
    """The most recent swap of each tracked person. Used by the worker thread only.

    A person flow lost for a moment keeps their track id when a detection finds them again, so their swap is kept
    a while after they were last seen (`forget_after_s`, longer than the tracker keeps a lost track); a track id is
    never used again, so nobody else can get it."""

    def __init__(self, forget_after_s: float = 3.0) -> None:
        self.forget_after_s = forget_after_s
        self._kept: dict[int, KeptSwap] = {}
        self._seen: dict[int, float] = {}  # when each kept track was last followed

    def __len__(self) -> int:
        return len(self._kept)

    def store(self, kept: Iterable[KeptSwap]) -> int:
        """Keep each swap unless a newer one of its track is kept already; returns how many were kept."""
        n = 0
        for k in kept:
            old = self._kept.get(k.track_id)
            if old is None or old.seq <= k.seq:
                self._kept[k.track_id] = k
                self._seen.setdefault(k.track_id, k.captured_at)
                n += 1
        return n

    def for_person(self, track_id: int | None, source: Any) -> KeptSwap | None:
        """The kept swap of track `track_id` when it carries `source` (the very object: another source is another
        identity, never shown in its place)."""
        kept = self._kept.get(track_id) if track_id is not None else None
        return kept if kept is not None and kept.swap.source is source else None

    def seen(self, track_ids: Iterable[int | None], now: float) -> None:
        """The tracks followed at `now`; the swaps of tracks unseen for `forget_after_s` are dropped."""
        for track_id in track_ids:
            if track_id is not None:
                self._seen[track_id] = now
        for track_id in list(self._kept):
            if now - self._seen.get(track_id, now) > self.forget_after_s:
                del self._kept[track_id]
        for track_id in [t for t in self._seen if t not in self._kept]:
            del self._seen[track_id]

    def clear(self) -> None:
        self._kept.clear()
        self._seen.clear()


@dataclass(frozen=True)
class RenderInfo:
    """How one live frame was rendered, for the statistics."""

    mode: RenderMode
    shown: int = 0  # people shown swapped (wholly or partly)
    pending: int = 0  # people shown as they are (or blurred) until their first swap
    faded: int = 0  # people whose kept swap is faded because they turned
    face_age_s: float | None = None  # how old the oldest swapped face shown is (0: swapped on this frame)
    updated: int = 0  # swapped faces that arrived for this frame (exact: the faces swapped on it)
    swap_ms_per_face: float | None = None  # what the swapper takes per face (swap and restore), measured


class FluidStage:
    """The fluid half of the frame processor: chooses the render (auto), asks the background swapper for swaps
    and pastes the kept ones. Used from the worker thread only (its jobs run on the swapper's)."""

    def __init__(self, engine: FluidEngine, swapper: BackgroundSwapper, camera_fps: float = 30.0,
                 fade: FadeConfig | None = None, batch_budget_s: float = 0.25, landmark_budget: float = 0.25,
                 measure_alpha: float = 0.3) -> None:
        """`batch_budget_s`: a job swaps as many faces (the longest-waiting first) as fit this time, at least one.
        `landmark_budget`: the share of a camera frame the landmark model may take on the current frame."""
        self.engine = engine
        self.swapper = swapper
        self.camera_fps = camera_fps
        self.fade = fade or FadeConfig()
        self.batch_budget_s = batch_budget_s
        self.landmark_budget = landmark_budget
        self._alpha = measure_alpha
        self.keeper = SwapKeeper()
        self.face_ms: float | None = None  # swap (and restore) per face, a moving average
        self.landmark_ms: float | None = None  # the landmark model per face
        self._auto: RenderMode = "fluid"  # auto starts fluid: the first frames never wait for a model
        self._last: RenderMode | None = None
        self._epoch = 0
        self.jobs = 0

    # -- which render ----------------------------------------------------------------------------------------
    @property
    def frame_ms(self) -> float:
        return 1000.0 / self.camera_fps if self.camera_fps > 0 else 1000.0 / 30.0

    def mode(self, options: SwapOptions, faces: int) -> RenderMode:
        """The render for a frame with `faces` to swap: the options' choice, or auto's (fluid while swapping them
        takes more than two camera frames; back to exact below 1.5, so it does not flip at the boundary)."""
        chosen: RenderMode
        if options.render == "auto":
            if self.face_ms is not None and faces > 0:
                cost = self.face_ms * faces
                if self._auto == "fluid" and cost < 1.5 * self.frame_ms:
                    self._auto = "exact"
                elif self._auto == "exact" and cost > 2.0 * self.frame_ms:
                    self._auto = "fluid"
            chosen = self._auto
        else:
            chosen = "fluid" if options.render == "fluid" else "exact"
        if self._last == "fluid" and chosen == "exact":
            self._epoch += 1  # swaps asked for before are not shown when fluid comes back
            self.keeper.clear()
        self._last = chosen
        return chosen

    def measured_exact(self, timings: dict[str, float], faces: int) -> None:
        """An exact frame's swap (and restore) time, for auto."""
        if faces > 0:
            self._measure("face_ms", (timings.get("swap", 0.0) + timings.get("restore", 0.0)) / faces)

    def _measure(self, name: str, value: float) -> None:
        old = getattr(self, name)
        setattr(self, name, value if old is None else (1.0 - self._alpha) * old + self._alpha * value)

    # -- the fluid frame -------------------------------------------------------------------------------------
    def render(self, frame: Frame, chosen: Sequence[Assignment[Any]], alive: Iterable[int | None],
               options: SwapOptions, seq: int, timestamp: float, timings: dict[str, float]
               ) -> tuple[Frame, tuple[Note, ...], RenderInfo]:
        """`frame` with each of `chosen` (tracked people and their sources) pasted with their kept swap, and a swap
        of the longest-waiting of them asked for when the swapper is free. `alive`: every track followed now."""
        self._last = "fluid"
        notes: tuple[Note, ...] = ()
        updated = 0
        batch = self.swapper.poll()
        if batch is not None:
            if batch.error is not None:
                raise batch.error
            if batch.epoch == self._epoch:
                updated = self.keeper.store(batch.kept)
            if batch.faces:
                self._measure("face_ms", batch.ms / batch.faces)
            if batch.landmark_ms is not None:
                self._measure("landmark_ms", batch.landmark_ms)
            notes += batch.notes
        self.keeper.seen(alive, timestamp)
        people = [a for a in chosen if a.track_id is not None and a.source is not None]
        if people and not self.swapper.busy:
            picks = self._pick(people, timestamp)
            self.swapper.submit(partial(self._job, frame, picks, options, seq, timestamp, self._epoch))
            self.jobs += 1
        out, paste_notes, info = self._paste(frame, people, options, timestamp, timings)
        info = RenderInfo("fluid", info.shown, info.pending, info.faded, info.face_age_s, updated, self.face_ms)
        return out, notes + paste_notes, info

    def _pick(self, people: list[Assignment[Any]], now: float) -> list[Assignment[Any]]:
        """Who the next job swaps: those with no swap of theirs first, then the oldest, as many as fit the budget
        at the measured cost (one while it is unknown: on a CPU a first face comes after one swap, not all)."""
        def waited(a: Assignment[Any]) -> float:
            kept = self.keeper.for_person(a.track_id, a.source)
            return math.inf if kept is None else now - kept.captured_at

        ordered = sorted(people, key=waited, reverse=True)
        n = 1 if self.face_ms is None else max(1, int(self.batch_budget_s * 1000.0 / max(self.face_ms, 1e-3)))
        return ordered[:n]

    def _job(self, frame: Frame, picks: list[Assignment[Any]], options: SwapOptions, seq: int, timestamp: float,
             epoch: int) -> SwapBatch:
        """On the swapper's thread: swap (and restore) the picked faces of `frame`, and find their landmarks when
        the masks need them."""
        faces = [a.face for a in picks]
        t0 = time.perf_counter()
        swaps = self.engine.swap_crops(frame, faces, [a.source for a in picks])
        if options.restore is not None:
            swaps = restored(self.engine, frame, swaps, options.restore, options.color_correction)
        ms = (time.perf_counter() - t0) * 1000.0
        marks: list[Landmarks | None] = [None] * len(picks)
        notes: tuple[Note, ...] = ()
        landmark_ms = None
        if options.needs_landmarks:
            missing = self.engine.landmarks_missing()
            if missing is not None:
                notes = (missing,)
            else:
                t1 = time.perf_counter()
                marks = [self.engine.landmarks(frame, face) for face in faces]
                landmark_ms = (time.perf_counter() - t1) * 1000.0 / len(faces)
        kept = tuple(KeptSwap(s, a.track_id, seq, timestamp, m)
                     for s, a, m in zip(swaps, picks, marks, strict=True) if a.track_id is not None)
        return SwapBatch(kept, ms, len(picks), landmark_ms, notes, epoch)

    def _landmarks_here(self, faces: int) -> bool:
        """Whether the landmark model runs on the current frame (cheap enough), rather than being followed."""
        return self.landmark_ms is not None and self.landmark_ms * faces <= self.landmark_budget * self.frame_ms

    def _paste(self, frame: Frame, people: list[Assignment[Any]], options: SwapOptions, timestamp: float,
               timings: dict[str, float]) -> tuple[Frame, tuple[Note, ...], RenderInfo]:
        swaps: list[SwappedFace] = []
        faces: list[Face] = []
        followed: list[Landmarks | None] = []
        blends: list[float] = []
        hidden: list[tuple[Face, float]] = []  # faces shown as a new person is, and how much
        pending = faded = 0
        age: float | None = None
        here = not options.needs_landmarks or self._landmarks_here(len(people))
        for a in people:
            kept = self.keeper.for_person(a.track_id, a.source)
            if kept is None:
                pending += 1
                hidden.append((a.face, 1.0))
                continue
            weight = follow_weight(shape_change(kept.swap.face.points, a.face.points), self.fade)
            if weight < 1.0:
                faded += 1
                hidden.append((a.face, 1.0 - weight))
            if weight <= 0.0:
                continue
            swaps.append(kept.swap)
            faces.append(a.face)
            blends.append(weight)
            followed.append(None if here or kept.landmarks is None else
                            follow_landmarks(kept.landmarks, kept.swap.face.points, a.face.points))
            age = max(age or 0.0, timestamp - kept.captured_at)
        base = frame
        if options.until_swapped == "blur" and hidden:
            base = frame.copy()
            blur_faces(base, [f for f, _ in hidden], [s for _, s in hidden])
        notes: tuple[Note, ...] = ()
        out = base
        # Kept crops on the host and on a device (a torch backend's swaps; restored ones are kept on the host) are
        # pasted by one call each, the second onto the first's result.
        on_host = [i for i, s in enumerate(swaps) if isinstance(s.crop, np.ndarray)]
        groups = [g for g in (on_host, [i for i in range(len(swaps)) if i not in on_host]) if g]
        for group in groups:
            out, paste_timings, group_notes = self.engine.paste_swaps(
                out, [swaps[i] for i in group], options, faces=[faces[i] for i in group],
                landmarks=None if here else [followed[i] for i in group], blends=[blends[i] for i in group])
            notes += tuple(n for n in group_notes if n not in notes)
            for key, ms in paste_timings.items():
                timings[key] = timings.get(key, 0.0) + ms
            if options.needs_landmarks and here and paste_timings.get("landmarks"):
                self._measure("landmark_ms", paste_timings["landmarks"] / len(group))
        return out, notes, RenderInfo("fluid", len(swaps), pending, faded, age)


def restored(engine: FluidEngine, frame: Frame, swaps: Sequence[SwappedFace], restore: RestoreOptions,
             color_correction: bool) -> list[SwappedFace]:
    """The swapped faces restored, each kept at the restorer's size in the same alignment as the swap's crop
    (the alignment template scales with the crop), so the render pastes it like any swap. Each is pasted whole
    (box mask, no blend) into a copy of its frame, restored there, and aligned out again."""
    from app.core.restore import SIZE

    if not swaps:
        return []
    plain = SwapOptions(blend=1.0, color_correction=color_correction, mask="box")
    canvas, _, _ = engine.paste_swaps(frame, swaps, plain)
    faces = [s.face for s in swaps]
    engine.restore_into(canvas, faces, restore)
    out = []
    for swap, face in zip(swaps, faces, strict=True):
        crop, matrix = align_crop(canvas, face.points, SIZE)
        reference, _ = align_crop(frame, face.points, SIZE)
        out.append(SwappedFace(crop, face, swap.source, matrix, reference))
    return out
