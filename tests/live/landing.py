"""Where the swapped face lands in live's output, measured end to end (issue 12, "a steadier face").

A video file plays as the camera: insightface's t1.jpg (five faces in view), still, then moving at 4 px per
frame, with sensor noise, each frame's number written into its top-left corner as a barcode. The live session
runs the real engine on stand-in models (the inverting stand-in swap, colour correction off) with one thing
faked, since no stand-in detector jitters like a real one: detection returns the true faces plus a whole-face
offset drawn from N(0, sigma) per axis for every call. Each output frame is matched to its input by the
barcode. The swap model is a stand-in that paints every face pure green (an inverting swap would put each
pixel back where it came from, wherever the crop was taken: only a face-independent picture shows where the
paste landed), so each output pixel near a face is a blend of green and the camera's pixel, the blend weight
is the paste's mask, and the weight-centroid of that mask is where the face landed, to a fraction of a pixel.
A tracker that follows detections too closely lets that landing wander with them; one that smooths too hard
lags behind a moving face. Used by tests/live/test_landing.py (generous bounds) and benchmarks/bench_landing.py
(numbers).

The same measurement serves the fluid render (issue 14; tests/live/test_fluid_live.py, benchmarks/
bench_fluid.py): a swap slowed to a given cost per face (SlowSwaps) makes every pasted face seconds old, and the
landing says whether it is pasted where the face is in the frame shown, not where it was when it was swapped;
the session's statistics say the output's rate, latency and how old the shown faces were.
"""

from __future__ import annotations

import threading
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import av
import numpy as np
import numpy.typing as npt

from app.core.options import FaceChoice, RenderChoice, SwapOptions
from app.core.tracker import Tracker, TrackerConfig
from app.core.types import Face, Frame
from app.live.capture import OpenCVSource
from app.live.events import Stats
from app.live.runtime import LiveSession
from app.live.sinks import CallbackSink
from tests.live.scene import BASE_BOXES, BASE_POINTS, Scene, load_t1, still_then_moving
from tests.standins import photos

BITS, CELL = 10, 8  # the frame number: 10 cells of 8x8 px, black or white, in the top-left corner
FPS = 30


def write_barcode(frame: Frame, index: int) -> None:
    for bit in range(BITS):
        frame[0:CELL, bit * CELL:(bit + 1) * CELL] = 255 if (index >> bit) & 1 else 0


def read_barcode(frame: Frame) -> int:
    cells = [float(frame[2:CELL - 2, b * CELL + 2:(b + 1) * CELL - 2].mean()) for b in range(BITS)]
    return sum(1 << b for b, v in enumerate(cells) if v > 127)


@dataclass
class Clip:
    path: Path
    scene: Scene
    frames: list[Frame]
    still: int  # frames before the face starts moving
    speed: float  # px per frame while moving

    def truth_centres(self, index: int) -> npt.NDArray[np.float64]:
        """(faces, 2) the true face centres (mean of the five points) in frame `index`."""
        return np.asarray(self.scene.truth(index).mean(axis=1), dtype=np.float64)


def make_clip(path: Path, still: int = 75, moving: int = 36, speed: float = 4.0, width: int = 960) -> Clip:
    """A lossless video (x264, crf 0, 4:4:4) of the scene with the frame number in each frame. `width`: 960
    leaves t1's right-most face out and the next half in; 1280 (all of t1) has all five in view."""
    scene = Scene(load_t1()[:, :width], still_then_moving(still, moving, speed, angle_deg=180.0), seed=3)
    frames = []
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=FPS, options={"crf": "0", "preset": "ultrafast"})
        stream.width, stream.height = scene.image.shape[1], scene.image.shape[0]
        stream.pix_fmt = "yuv444p"
        for i in range(len(scene.offsets)):
            frame = scene.frame(i)
            write_barcode(frame, i)
            frames.append(frame)
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame[:, :, ::-1].copy(), format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return Clip(path, scene, frames, still, speed)


class JitteredDetections:
    """Wraps the engine: detect() answers the clip's true faces (found by the frame's barcode) shifted as a
    whole by N(0, sigma) per axis, a new draw every call; everything else is the real engine."""

    def __init__(self, engine: Any, clip: Clip, sigma: float = 2.0, seed: int = 0) -> None:
        self._engine = engine
        self._clip = clip
        self._sigma = sigma
        self._rng = np.random.default_rng(seed)
        self._lock = threading.Lock()
        self.offsets: list[npt.NDArray[np.float64]] = []  # every call's (faces, 2) offset

    def __getattr__(self, name: str) -> Any:
        return getattr(self._engine, name)

    def detect(self, frame: Frame, options: SwapOptions) -> list[Face]:
        index = read_barcode(frame)
        truth = self._clip.scene.truth(index)
        with self._lock:
            shift = self._rng.normal(0.0, self._sigma, (truth.shape[0], 1, 2))
            self.offsets.append(shift[:, 0])
        points = truth + shift
        boxes = BASE_BOXES + np.tile(self._clip.scene.offsets[index], 2) + np.tile(shift[:, 0], 2)
        h, w = frame.shape[:2]
        # No detector finds a face wholly outside the picture (t1's right-most face is, in the 960 px clip).
        return [Face(tuple(float(v) for v in b), p.astype(np.float32), 0.9)  # type: ignore[arg-type]
                for b, p in zip(boxes, points, strict=True) if b[0] < w and b[1] < h and b[2] > 0 and b[3] > 0]


class SlowSwaps:
    """Wraps the engine: each face's swap takes at least `seconds` (the engine's own work, then a sleep for the
    rest), in the exact render (swap) and on the fluid render's swapper (swap_crops) alike. A sleep stands for
    the faithful model's time without its CPU load: the tests prove the render does not wait for the swap;
    benchmarks/bench_fluid.py runs the faithful models themselves, load and all."""

    def __init__(self, engine: Any, seconds: float) -> None:
        self._engine = engine
        self.seconds = seconds
        self.calls = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._engine, name)

    def _pad(self, started: float, faces: int) -> None:
        self.calls += 1
        time.sleep(max(0.0, self.seconds * faces - (time.perf_counter() - started)))

    def swap_crops(self, frame: Frame, faces: Sequence[Face], sources: Sequence[Any]) -> Any:
        t0 = time.perf_counter()
        out = self._engine.swap_crops(frame, faces, sources)
        self._pad(t0, len(faces))
        return out

    def swap(self, frame: Frame, faces: Sequence[Face], sources: Sequence[Any], options: SwapOptions) -> Any:
        t0 = time.perf_counter()
        out = self._engine.swap(frame, faces, sources, options)
        self._pad(t0, len(faces))
        out.timings["swap"] = (time.perf_counter() - t0) * 1000.0  # what the slowed swap took, as auto sees it
        return out


@dataclass
class Landing:
    centres: dict[int, npt.NDArray[np.float64]] = field(default_factory=dict)  # frame -> (faces, 2), NaN: none


GREEN = np.array([0.0, 255.0, 0.0])  # BGR: what the stand-in swap paints


def build_green_swapper(path: Path, seed: int = 0) -> Path:
    """An inswapper_128.onnx stand-in (the real inputs, output and emap-last convention) that paints the face
    pure green whatever the target and the source."""
    from onnx import TensorProto, helper, numpy_helper

    from tests.standins.inswapper import emap_for
    from tests.standins.onnx_file import save_graph

    nodes = [helper.make_node("Mul", ["target", "zero"], ["blank"]),
             helper.make_node("Add", ["blank", "green"], ["output"])]
    inits = [numpy_helper.from_array(np.array(0.0, np.float32), "zero"),
             numpy_helper.from_array(np.array([0.0, 1.0, 0.0], np.float32).reshape(1, 3, 1, 1), "green"),
             numpy_helper.from_array(emap_for(seed), "emap")]
    graph = helper.make_graph(nodes, "green_swapper", [
        helper.make_tensor_value_info("target", TensorProto.FLOAT, [1, 3, 128, 128]),
        helper.make_tensor_value_info("source", TensorProto.FLOAT, [1, 512])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 3, 128, 128])], initializer=inits)
    return save_graph(graph, path)


def models_for_landing(standin_models_dir: Path, root: Path) -> Path:
    """The stand-in detector and recogniser (for the source photo) with the green swapper."""
    (root / "buffalo_l").mkdir(parents=True, exist_ok=True)
    for rel in ("buffalo_l/det_10g.onnx", "buffalo_l/w600k_r50.onnx"):
        if not (root / rel).exists():
            (root / rel).symlink_to(standin_models_dir / rel)
    build_green_swapper(root / "inswapper_128.onnx")
    return root


def landed(out: Frame, original: Frame, truth: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """(faces, 2): where the green paste landed near each true face: the centroid of its blend weight, which
    out = weight * green + (1 - weight) * original gives per pixel (NaN where there is none). Worked out in each
    face's patch only (the frame elsewhere says nothing)."""
    h, w = out.shape[:2]
    centres = np.full((truth.shape[0], 2), np.nan)
    for k, (cx, cy) in enumerate(truth):
        r = 0.9 * float(np.linalg.norm(BASE_POINTS[k, 1] - BASE_POINTS[k, 0])) * 2.2
        x0, x1, y0, y1 = int(cx - r), int(cx + r), int(cy - r), int(cy + r)
        if x0 < 0 or y0 < 0 or x1 > w or y1 > h:
            continue  # a face partly out of the picture: its changed region is cut, its centroid moved
        o, f = out[y0:y1, x0:x1].astype(np.float64), original[y0:y1, x0:x1].astype(np.float64)
        towards = GREEN - f
        reach = (towards ** 2).sum(axis=2)
        patch = np.clip(((o - f) * towards).sum(axis=2) / np.maximum(reach, 1.0), 0.0, 1.0)
        patch[reach < 60.0 ** 2] = 0.0  # pixels already near green say nothing
        patch[:max(0, CELL + 2 - y0), :max(0, BITS * CELL + 2 - x0)] = 0.0  # the barcode
        total = float(patch.sum())
        if total > 50.0:
            ys, xs = np.mgrid[y0:y1, x0:x1]
            centres[k] = (float((patch * xs).sum()) / total, float((patch * ys).sum()) / total)
    return centres


@dataclass(frozen=True)
class Steadiness:
    detection_wander_px: float  # RMS of the detections' offsets, per axis
    landing_wander_px: float  # RMS of the landing's deviation from its mean on the still face, per axis
    ratio: float  # detection wander / landing wander: how much steadier the output is than the detections
    lag_frames: float  # how far behind the moving face the landing is, in frames
    frames_out: int
    still_frames: int
    moving_frames: int
    moving_error_px: float = float("nan")  # RMS distance of the landing from the face in that frame, while moving
    frames_in: int = 0  # the clip's frames
    output_fps: float = 0.0  # frames out per second of the clip's playing time
    latency_p50_ms: float = 0.0
    latency_p95_ms: float = 0.0
    frame_ms: float = 0.0  # the worker's total per frame (median of the statistics posted)
    render: str = ""  # fluid or exact, as the statistics said at the end
    face_fps: float = 0.0  # how often a face was updated (the statistics' last say)
    face_age_ms: float = 0.0  # how old the faces shown were (median of the statistics posted while moving)
    swapped_frames: int = 0  # output frames in which at least one face was found pasted


def measure(engine: Any, clip: Clip, config: TrackerConfig | None = None, sigma: float = 2.0,
            timeout_s: float = 120.0, render: RenderChoice = "exact", swap_s_per_face: float = 0.0,
            faces: FaceChoice = "all", wrap: Callable[[Any], Any] | None = None) -> Steadiness:
    """Play `clip` as the camera through a live session, as the `live` command runs one, and measure.
    `render`, `faces`: the options'; `swap_s_per_face`: slow each face's swap to this (SlowSwaps); `wrap`: wraps
    the engine the session gets (benchmarks/bench_fluid.py pays the faithful models' cost there)."""
    jittered = JitteredDetections(SlowSwaps(engine, swap_s_per_face) if swap_s_per_face > 0 else engine, clip, sigma)
    outputs: list[Frame] = []
    options = SwapOptions(color_correction=False, blend=1.0, mask="box", render=render, faces=faces)
    session = LiveSession(jittered if wrap is None else wrap(jittered), OpenCVSource(str(clip.path)), options=options,
                          face_source=engine.prepare_source(photos.astronaut().image), tracker=Tracker(config),
                          sinks=[CallbackSink(outputs.append)], stats_interval_s=0.1)
    snapshots = []
    session.start()
    try:
        deadline = time.perf_counter() + timeout_s
        while not session.wait(0.0):
            if time.perf_counter() > deadline:
                raise TimeoutError("the clip did not end in time")
            snapshots += [e.snapshot for e in session.events.wait(0.1) if isinstance(e, Stats)]
    finally:
        session.stop()
    if session.error is not None:
        raise session.error
    snapshots += [e.snapshot for e in session.events.drain() if isinstance(e, Stats)]
    last = snapshots[-1] if snapshots else session.stats()  # the session's own last word, as it ended
    landing = Landing()
    for out in outputs:
        index = read_barcode(out)
        if 0 <= index < len(clip.frames):
            landing.centres[index] = landed(out, clip.frames[index], clip.truth_centres(index))
    result = _summarise(clip, landing, np.array(jittered.offsets), len(outputs))
    moving_ages = [s.face_age_ms for s in snapshots[len(snapshots) * clip.still // len(clip.frames):]
                   if s.face_age_ms is not None]
    totals = [s.stage_ms["total"] for s in snapshots if "total" in s.stage_ms]
    return _with_rates(result, clip, last, moving_ages, totals,
                       sum(1 for c in landing.centres.values() if np.isfinite(c).any()))


def _with_rates(result: Steadiness, clip: Clip, last: Any, ages: list[float], totals: list[float],
                swapped: int) -> Steadiness:
    from dataclasses import replace

    return replace(result, frames_in=len(clip.frames), output_fps=result.frames_out * FPS / len(clip.frames),
                   latency_p50_ms=last.latency_p50_ms, latency_p95_ms=last.latency_p95_ms,
                   frame_ms=float(np.median(totals)) if totals else 0.0, render=last.render,
                   face_fps=last.face_fps, face_age_ms=float(np.median(ages)) if ages else 0.0,
                   swapped_frames=swapped)


def _summarise(clip: Clip, landing: Landing, offsets: npt.NDArray[np.float64], frames_out: int) -> Steadiness:
    warm = 15  # the tracker's first detections settle in
    still = sorted(i for i in landing.centres if warm <= i < clip.still)
    moving = sorted(i for i in landing.centres if i >= clip.still + 6)  # past the start of the motion
    rel_still = np.array([landing.centres[i] - clip.truth_centres(i) for i in still])  # (n, faces, 2)
    with warnings.catch_warnings():  # a face that never lay wholly in view has no bias: NaN, left out below
        warnings.simplefilter("ignore", RuntimeWarning)
        bias = np.nanmean(rel_still, axis=0)  # where the changed region's centroid sits on each face
    deviation = rel_still - bias
    landing_rms = float(np.sqrt(np.nanmean(deviation ** 2)))
    detection_rms = float(np.sqrt(np.mean(offsets ** 2)))
    direction = np.array([-1.0, 0.0])  # the clip pans left (180 degrees)
    rel_moving = np.array([landing.centres[i] - clip.truth_centres(i) - bias for i in moving])
    along = np.nanmean(rel_moving @ direction) if len(moving) else float("nan")
    error = float(np.sqrt(np.nanmean((rel_moving ** 2).sum(axis=-1)))) if len(moving) else float("nan")
    return Steadiness(detection_rms, landing_rms, detection_rms / max(landing_rms, 1e-6),
                      float(-along / clip.speed), frames_out, len(still), len(moving), error)
