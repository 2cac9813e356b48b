"""Face tracking between detections, so detection need not run on every frame and the face neither lags
nor jitters.

Each face is a track with a stable id. Full detection runs every `detect_every` frames, or at once when a
track's optical flow fails. Between detections a track moves by a similarity transform fitted (RANSAC) to
sparse Lucas-Kanade flow of good features inside its box (app/core/flow.py: grey levels are converted only
where flow looks, and what the next frame's flow needs of this one is made ready before update() returns,
so the frame itself is not read afterwards unless it went to a background detector). A detection corrects
a track's flow estimate only partly (`correction_gain`), because flow is precise frame to frame while
detections jitter by a few pixels; a large disagreement means flow drifted and the detection wins outright.
The corrected points go through a One-Euro filter, normalised by the face's size so one set of parameters
suits near and far faces.

With a background detector (app/core/detection.py; the live session runs one on its own thread) the scheduled detection
runs beside the caller: update() hands the frame over and goes on tracking by flow. The answer comes some
frames later, for an older frame k; each track keeps the similarity transforms flow found for its recent
frames, and their composition since k brings the detection to the current frame before it is associated
and corrects the track. A face no track matches is carried from frame k to now by flow over its box. When
there is nothing to track with (no visible track yet, or flow lost every face) detection still runs at once, on
the current frame; when flow loses one face while others are still followed, it is looked for on the background
detector as soon as that is free (a detection in the worker would hold up every output frame for it: hundreds
of ms on a CPU, each frame, for a face flow cannot hold, such as one half out of the picture). Without a
background detector every detection is synchronous (video files, tests).
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from app.core.detection import BackgroundDetector, DetectionResult, Detector
from app.core.flow import FlowWindow, GreyFrame, flow_similarity, flow_window, window_image
from app.core.options import FaceChoice
from app.core.smoothing import OneEuroFilter, OneEuroParams
from app.core.types import Face, Frame

log = logging.getLogger(__name__)

F64 = npt.NDArray[np.float64]


@dataclass(frozen=True)
class TrackerConfig:
    detect_every: int = 5  # full detection on every Nth frame the tracker sees
    lost_after_s: float = 1.0  # a track unseen this long is forgotten (and a face lock released)
    match_iou: float = 0.3  # a detection continues a track when their boxes overlap this much...
    match_center: float = 0.5  # ...or their centres are closer than this fraction of the track's box size
    correction_gain: float = 0.15  # how far a detection pulls the flow-tracked points towards itself...
    noise_error: float = 0.1  # ...while they disagree by no more than detection noise (in eye distances);
    reset_error: float = 0.35  # the pull grows to 1 (the detection replaces flow) at this disagreement
    max_features: int = 80  # flow costs ~linear in it; 48 saves ~0.25 ms at 1080p, lag +0.005 frames
    min_inliers: int = 8
    fb_max_error: float = 1.0  # px: forward-backward flow check
    compensate_motion: bool = True  # move the smoother's state with the flow: flow is followed without lag
    history_frames: int = 90  # per-frame flow kept per track: a background detection this late still lands
    smoothing: OneEuroParams = field(default_factory=lambda: OneEuroParams(1.0, 1.0, 1.0))


@dataclass
class _Track:
    id: int
    face: Face  # the last detection of this face: box, score, embedding
    raw: F64  # (5, 2) points tracked by flow and corrected by detections, before smoothing
    scale: float  # px per filter unit (eye distance at creation), so smoothing is size-independent
    filter: OneEuroFilter
    last_seen: float
    visible: bool = True
    detections: int = 1
    out: F64 | None = None  # smoothed points
    since: int = 0  # the frame from which `history` is unbroken (raw was placed by a detection then)
    history: deque[tuple[int, F64]] = field(default_factory=deque)  # (frame, flow from the frame before)
    window: FlowWindow | None = None  # where flow looks next, chosen (and made ready) on the frame before

    def box_at(self, points: F64) -> tuple[float, float, float, float]:
        return self.face.with_points(points.astype(np.float32)).box


def _iou(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _compose(history: Sequence[tuple[int, F64]], since: int, after: int, now: int) -> F64 | None:
    """The flow transform from frame `after` to frame `now`, or None when the history does not reach back."""
    if after < since:
        return None
    total = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    expected = after + 1
    for frame, matrix in history:
        if frame <= after:
            continue
        if frame != expected:
            return None
        total = np.hstack([matrix[:, :2] @ total[:, :2], matrix[:, :2] @ total[:, 2:] + matrix[:, 2:]])
        expected += 1
    return total if expected == now + 1 else None


def _moved(face: Face, matrix: F64) -> Face:
    points = face.points.astype(np.float64) @ matrix[:, :2].T + matrix[:, 2]
    return face.with_points(points.astype(np.float32))


def _mover(matrix: F64, scale: float) -> Callable[[F64], F64]:
    """The similarity `matrix` (px) applied to points in units of `scale` px."""

    def move(x: F64) -> F64:
        return np.asarray(((x * scale) @ matrix[:, :2].T + matrix[:, 2]) / scale, dtype=np.float64)

    return move


class Tracker:
    """Keeps faces between detections. Not thread-safe: one worker thread owns it."""

    def __init__(self, config: TrackerConfig | None = None) -> None:
        self.config = config or TrackerConfig()
        self._tracks: list[_Track] = []
        self._prev: GreyFrame | None = None
        self._next_id = 1
        self._since_detect = 0
        self._force_detect = True
        self._target: int | None = None
        self._last_sync = -1  # the frame of the last synchronous detection
        self._requested: dict[int, GreyFrame] = {}  # the frames handed to the background detector
        self._lost = False  # flow lost a face: the background detector looks for it as soon as it is free
        self.frames = 0
        self.detections = 0
        self.last_timings: dict[str, float] = {}

    @property
    def target_id(self) -> int | None:
        """The track followed when faces='largest'."""
        return self._target

    @property
    def detection_ratio(self) -> float:
        """Detections run per frame seen (1.0 = detecting every frame)."""
        return self.detections / self.frames if self.frames else 0.0

    def request_detection(self) -> None:
        """Detect on the next frame (e.g. after the detection settings changed)."""
        self._force_detect = True

    def reset(self) -> None:
        self._tracks.clear()
        self._prev = None
        self._target = None
        self._force_detect = True
        self._lost = False

    def update(
        self,
        frame: Frame,
        timestamp: float,
        detect: Detector,
        faces: FaceChoice = "all",
        background: BackgroundDetector | None = None,
    ) -> list[Face]:
        """Track the faces into `frame` (captured at `timestamp`, seconds), detecting when due: here, or on
        `background` when given (then `frame` must not be changed afterwards)."""
        t0 = time.perf_counter()
        gray = GreyFrame(frame)  # grey levels only where flow looks, converted as it asks
        self.frames += 1
        flow_failed = self._track_flow(gray)
        t1 = time.perf_counter()
        self._since_detect += 1
        visible = any(t.visible for t in self._tracks)
        self._lost = self._lost or (flow_failed and background is not None and visible)
        due = self._since_detect >= self.config.detect_every or self._lost
        now = (flow_failed and background is None) or self._force_detect or not visible
        result = background.poll() if background is not None else None
        submitted = False
        if result is not None and result.error is not None:
            raise result.error
        if now or (due and background is None):
            self._associate(detect(frame), timestamp)
            self.detections += 1
            self._since_detect = 0
            self._force_detect = False
            self._lost = False
            self._last_sync = self.frames
        t2 = time.perf_counter()
        if background is not None and not now:
            if result is not None and result.seq > self._last_sync:
                self._apply_late(result, gray, timestamp)
            if due and not background.busy:
                background.submit(frame, self.frames, timestamp, detect)
                for seq in sorted(self._requested)[:-1]:  # keep this request and the one before
                    self._requested.pop(seq).release()
                self._requested[self.frames] = gray
                submitted = True
                self._lost = False
                self.detections += 1
                self._since_detect = 0
        self._forget(timestamp)
        self._choose_target()
        out: list[Face] = []
        for track in self._tracks:
            if not track.visible:
                continue
            track.last_seen = timestamp
            smoothed = track.filter(track.raw / track.scale, timestamp) * track.scale
            track.out = smoothed
            if faces == "all" or track.id == self._target:
                out.append(track.face.with_points(smoothed.astype(np.float32)))
        self._prepare_next(gray, keep_frame=submitted)
        t3 = time.perf_counter()
        self.last_timings = {"track": (t1 - t0 + t3 - t2) * 1000.0, "detect": (t2 - t1) * 1000.0}
        return out

    def track_ids(self) -> list[int]:
        """Ids of the faces visible now, in the order update() returned them (with faces='all')."""
        return [t.id for t in self._tracks if t.visible]

    def tracked(self) -> list[tuple[int, Face]]:
        """(track id, face) for every face visible after the last update(), whatever its `faces` chose: a
        per-person source needs every face with the id that stays with its person."""
        return [(t.id, t.face.with_points(t.out.astype(np.float32)))
                for t in self._tracks if t.visible and t.out is not None]

    def _prepare_next(self, gray: GreyFrame, keep_frame: bool) -> None:
        """Convert now what the next frame's flow will read of this one (each visible track's flow region),
        so the frame itself need not stay unchanged after update() returns, unless it went to the background
        detector, whose late answer may need flow from it anywhere."""
        for track in self._tracks:
            if track.visible:
                track.window = flow_window(track.box_at(track.raw), gray.shape, track.window)
                if track.window is not None:
                    window_image(gray, track.window)
        if not keep_frame:
            gray.release()
        self._prev = gray

    def _track_flow(self, gray: GreyFrame) -> bool:
        """Move visible tracks by optical flow; True when one of them was lost."""
        if self._prev is None or self._prev.shape != gray.shape:
            return bool(self._tracks)
        failed = False
        for track in self._tracks:
            if not track.visible:
                continue
            matrix = flow_similarity(self._prev, gray, track.box_at(track.raw), self.config, track.window)
            if matrix is None:
                track.visible = False
                failed = True
                continue
            track.raw = track.raw @ matrix[:, :2].T + matrix[:, 2]
            track.history.append((self.frames, matrix))
            while len(track.history) > self.config.history_frames:
                track.history.popleft()
            if self.config.compensate_motion:
                track.filter.move_state(_mover(matrix, track.scale))
        return failed

    def _apply_late(self, result: DetectionResult, gray: GreyFrame, timestamp: float) -> None:
        """Correct the tracks with a background detection of the older frame `result.seq`, brought forward
        to this frame by each track's flow since then."""
        then = self._requested.pop(result.seq, None)  # released below, once carry() is done with it
        moves = {
            track.id: _compose(track.history, track.since, result.seq, self.frames)
            for track in self._tracks
            if track.visible
        }

        def carry(det: Face) -> Face:
            """A face no track followed: moved from frame seq to now by flow over its box, if flow finds it."""
            if then is None or then.shape != gray.shape:
                return det
            matrix = flow_similarity(then, gray, det.box, self.config)
            return det if matrix is None else _moved(det, matrix)

        self._associate(result.faces, timestamp, moves, carry)
        if then is not None:
            then.release()

    def _associate(
        self,
        detections: Sequence[Face],
        timestamp: float,
        moves: dict[int, F64 | None] | None = None,
        carry: Callable[[Face], Face] | None = None,
    ) -> None:
        """Match detections to tracks and correct them. A late detection comes with `moves`: per visible
        track, the flow since the detected frame (None: unknown), and `carry` for faces no track takes."""
        cfg = self.config
        pairs: list[tuple[float, int, int]] = []
        moved: dict[tuple[int, int], Face] = {}
        for ti, track in enumerate(self._tracks):
            tbox = track.box_at(
                track.raw if track.visible else (track.out if track.out is not None else track.raw)
            )
            size = max(tbox[2] - tbox[0], tbox[3] - tbox[1], 1.0)
            tc = ((tbox[0] + tbox[2]) / 2, (tbox[1] + tbox[3]) / 2)
            move = moves.get(track.id) if moves is not None else None
            for di, det in enumerate(detections):
                if move is not None:
                    det = moved[ti, di] = _moved(det, move)
                iou = _iou(tbox, det.box)
                dist = float(np.hypot(det.center[0] - tc[0], det.center[1] - tc[1])) / size
                if iou >= cfg.match_iou or dist < cfg.match_center:
                    pairs.append((iou - dist, ti, di))
        used_t: set[int] = set()
        used_d: set[int] = set()
        for _, ti, di in sorted(pairs, reverse=True):
            if ti in used_t or di in used_d:
                continue
            used_t.add(ti)
            used_d.add(di)
            det = moved.get((ti, di)) or (carry(detections[di]) if carry is not None else detections[di])
            self._correct(self._tracks[ti], det, timestamp)
        for ti, track in enumerate(self._tracks):
            # A late detection says nothing of a track whose flow history does not reach back to it.
            if ti not in used_t and (moves is None or moves.get(track.id) is not None):
                track.visible = False
        for di, det in enumerate(detections):
            if di not in used_d:
                self._tracks.append(self._new_track(carry(det) if carry is not None else det, timestamp))

    def _correct(self, track: _Track, det: Face, timestamp: float) -> None:
        measured = det.points.astype(np.float64)
        scale = max(det.eye_distance, 1.0)
        error = float(np.linalg.norm(measured - track.raw, axis=1).mean()) / scale
        if not track.visible or error > self.config.reset_error:
            if not track.visible:
                track.filter.reset()  # it may reappear elsewhere: do not glide there from the old place
                track.history.clear()  # its flow history restarts here
                track.since = self.frames
            track.raw = measured
            track.detections = 0
        else:
            # A running mean over a new track's first detections (gain 1/n), then a fixed small gain; a
            # disagreement beyond detection noise (a turned head flow cannot follow) pulls harder.
            cfg = self.config
            ramp = (error - cfg.noise_error) / max(cfg.reset_error - cfg.noise_error, 1e-6)
            gain = max(cfg.correction_gain, 1.0 / (track.detections + 1), min(1.0, ramp))
            track.raw = track.raw + gain * (measured - track.raw)
        track.detections += 1
        track.face = det
        track.visible = True
        track.last_seen = timestamp

    def _new_track(self, det: Face, timestamp: float) -> _Track:
        track = _Track(
            id=self._next_id,
            face=det,
            raw=det.points.astype(np.float64),
            scale=max(det.eye_distance, 1.0),
            filter=OneEuroFilter(self.config.smoothing),
            last_seen=timestamp,
            since=self.frames,
        )
        self._next_id += 1
        log.debug("new face track %d at %s", track.id, det.box)
        return track

    def _forget(self, timestamp: float) -> None:
        keep = [t for t in self._tracks if t.visible or timestamp - t.last_seen <= self.config.lost_after_s]
        if self._target is not None and all(t.id != self._target for t in keep):
            log.debug("face track %d lost; choosing the largest face again", self._target)
            self._target = None
        self._tracks = keep

    def _choose_target(self) -> None:
        if self._target is None:
            visible = [t for t in self._tracks if t.visible]
            if visible:
                self._target = max(visible, key=lambda t: t.face.area).id
