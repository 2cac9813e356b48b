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
"""

from __future__ import annotations

import threading
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import av
import numpy as np
import numpy.typing as npt

from app.core.options import SwapOptions
from app.core.tracker import Tracker, TrackerConfig
from app.core.types import Face, Frame
from app.live.capture import OpenCVSource
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


def make_clip(path: Path, still: int = 75, moving: int = 36, speed: float = 4.0) -> Clip:
    """A lossless video (x264, crf 0, 4:4:4) of the scene with the frame number in each frame."""
    scene = Scene(load_t1()[:, :960], still_then_moving(still, moving, speed, angle_deg=180.0), seed=3)
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
        return [Face(tuple(float(v) for v in b), p.astype(np.float32), 0.9)  # type: ignore[arg-type]
                for b, p in zip(boxes, points, strict=True)]


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
    out = weight * green + (1 - weight) * original gives per pixel (NaN where there is none)."""
    o, f = out.astype(np.float64), original.astype(np.float64)
    towards = GREEN - f
    weight = np.clip(((o - f) * towards).sum(axis=2) / np.maximum((towards ** 2).sum(axis=2), 1.0), 0.0, 1.0)
    weight[(towards ** 2).sum(axis=2) < 60.0 ** 2] = 0.0  # pixels already near green say nothing
    weight[:CELL + 2, :BITS * CELL + 2] = 0.0
    h, w = weight.shape
    centres = np.full((truth.shape[0], 2), np.nan)
    for k, (cx, cy) in enumerate(truth):
        r = 0.9 * float(np.linalg.norm(BASE_POINTS[k, 1] - BASE_POINTS[k, 0])) * 2.2
        x0, x1, y0, y1 = int(cx - r), int(cx + r), int(cy - r), int(cy + r)
        if x0 < 0 or y0 < 0 or x1 > w or y1 > h:
            continue  # a face partly out of the picture: its changed region is cut, its centroid moved
        patch = weight[y0:y1, x0:x1]
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


def measure(engine: Any, clip: Clip, config: TrackerConfig | None = None, sigma: float = 2.0,
            timeout_s: float = 120.0) -> Steadiness:
    """Play `clip` as the camera through a live session, as the `live` command runs one, and measure."""
    jittered = JitteredDetections(engine, clip, sigma)
    outputs: list[Frame] = []
    options = SwapOptions(color_correction=False, blend=1.0, mask="box")
    session = LiveSession(jittered, OpenCVSource(str(clip.path)), options=options,
                          face_source=engine.prepare_source(photos.astronaut().image), tracker=Tracker(config),
                          sinks=[CallbackSink(outputs.append)])
    session.start()
    try:
        if not session.wait(timeout_s):
            raise TimeoutError("the clip did not end in time")
    finally:
        session.stop()
    if session.error is not None:
        raise session.error
    landing = Landing()
    for out in outputs:
        index = read_barcode(out)
        if 0 <= index < len(clip.frames):
            landing.centres[index] = landed(out, clip.frames[index], clip.truth_centres(index))
    return _summarise(clip, landing, np.array(jittered.offsets), len(outputs))


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
    return Steadiness(detection_rms, landing_rms, detection_rms / max(landing_rms, 1e-6),
                      float(-along / clip.speed), frames_out, len(still), len(moving))
