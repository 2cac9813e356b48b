"""The live loop with architecture-faithful stand-in models on this CPU.

Two measurements, same run, camera 640x360 at 30 fps panning over t1.jpg, largest face:

1. The whole loop with faithful det_10g, w600k_r50 and inswapper_128 (random weights, the real layer
   shapes): output fps, per-stage ms, latency, drops: what the real files give on this CPU.
2. What detection costs per processed frame with tracking (full detection every 5th frame, optical flow
   between) against detecting every frame. Here the swap is the tiny test stand-in, so the loop runs at a
   webcam-like rate as it would on a GPU, and the faithful detector's cost is what differs.

With tracking, scheduled detection runs on the session's detector thread beside the worker (the live
default): `detect_ms_per_frame` is what detection costs in all per processed frame, `stage_ms.detect` what
of it the worker itself waited for (only detections with nothing to track). Detecting every frame runs
inside the worker, as the reference.

The faithful det_10g has random weights and finds nothing, so `detect` runs it for its real cost and then
takes the faces from the content-following stand-in detector (tests/standins; its few ms are included).

    python -m benchmarks.bench_live_loop [--seconds 30] [--int8]   # writes benchmarks/results/live_loop.json
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).parent / "results" / "live_loop.json"


class FaithfulDetectEngine:
    """detect() pays the faithful detector's cost, then returns the content-following stand-in's faces;
    swap() is the given engine's. Counts what detection costs in total."""

    def __init__(self, detector_engine, content_engine, swap_engine) -> None:
        self.detector_engine = detector_engine
        self.content_engine = content_engine
        self.swap_engine = swap_engine
        self.detect_ms = 0.0
        self.detect_calls = 0
        self._lock = threading.Lock()

    def detect(self, frame, options):
        t0 = time.perf_counter()
        self.detector_engine.detect(frame, options)  # the real cost (no faces: random weights)
        faces = self.content_engine.detect(frame, options)
        with self._lock:
            self.detect_ms += (time.perf_counter() - t0) * 1000.0
            self.detect_calls += 1
        return faces

    def prepare_source(self, image):
        return self.swap_engine.prepare_source(image)

    def embed(self, frame, face):
        return self.swap_engine.embed(frame, face)

    def swap(self, frame, faces, sources, options):
        return self.swap_engine.swap(frame, faces, sources, options)

    def options_ready_now(self, options):
        return self.swap_engine.options_ready_now(options)

    def restore_into(self, out, faces, restore):
        self.swap_engine.restore_into(out, faces, restore)


def run_loop(engine: FaithfulDetectEngine, source, seconds: float, detect_every: int, scene) -> dict[str, object]:
    from app.core.options import SwapOptions
    from app.core.tracker import Tracker, TrackerConfig
    from app.live.capture import SyntheticCamera
    from app.live.runtime import LiveSession

    def make(i: int) -> np.ndarray:
        return scene.frame(int(40 * np.sin(i / 30.0)), 0)[0]  # a slow sway, like a person on a call

    engine.detect_ms, engine.detect_calls = 0.0, 0
    tracker = Tracker(TrackerConfig(detect_every=detect_every))
    background = detect_every > 1  # detecting every frame stays in the worker: the reference
    session = LiveSession(engine, SyntheticCamera(640, 360, 30.0, make=make), options=SwapOptions(faces="largest"),
                          face_source=source, tracker=tracker, join_timeout_s=30.0, async_detection=background)
    session.start()
    time.sleep(seconds)
    stats = session.stats()
    session.stop()
    frames = max(tracker.frames, 1)
    return {
        "detect_every": detect_every,
        "detection": "beside the worker" if background else "in the worker",
        "seconds": seconds,
        "frames_processed": tracker.frames,
        "detections": engine.detect_calls,
        "detect_ms_per_call": round(engine.detect_ms / max(engine.detect_calls, 1), 1),
        "detect_ms_per_frame": round(engine.detect_ms / frames, 1),
        "stage_ms": {k: round(v, 1) for k, v in stats.stage_ms.items()},
        "camera_fps": round(stats.camera_fps, 1),
        "output_fps": round(stats.output_fps, 2),
        "latency_p50_ms": round(stats.latency_p50_ms),
        "latency_p95_ms": round(stats.latency_p95_ms),
        "drops": dict(stats.drops),
    }


def source_for(engine, scene):
    from app.core.engine import SourceFace
    from app.core.swap import source_latent
    from app.core.types import Face

    first, faces = scene.frame(0, 0)
    truth = max(faces, key=lambda f: (f.box[2] - f.box[0]) * (f.box[3] - f.box[1]))
    face = engine.embed(first, Face(box=truth.box, points=truth.points, score=1.0))
    return SourceFace(face=face, latent=source_latent(engine.models.swapper, face.embedding))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--int8", action="store_true", help="use the static int8 inswapper in the whole loop")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from app.core.engine import Engine
    from app.core.sessions import ModelSet
    from benchmarks import faithful_models
    from tests.standins import build_models_dir, build_tracking_scene

    faithful_models.build_all()
    cpu = ["CPUExecutionProvider"]
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        faithful_dir = faithful_models.CACHE_DIR
        if args.int8:
            faithful_dir = tmp_path / "int8"
            (faithful_dir / "buffalo_l").mkdir(parents=True)
            for rel in ("buffalo_l/det_10g.onnx", "buffalo_l/w600k_r50.onnx"):
                (faithful_dir / rel).symlink_to(faithful_models.CACHE_DIR / rel)
            (faithful_dir / "inswapper_128.onnx").symlink_to(faithful_models.build_inswapper_int8())
        scene = build_tracking_scene(tmp_path / "tracking" / "det_10g.onnx")
        content_dir = tmp_path / "content"
        (content_dir / "buffalo_l").mkdir(parents=True)
        (content_dir / "buffalo_l" / "det_10g.onnx").symlink_to(scene.detector)
        standin_dir = build_models_dir(tmp_path / "standin")

        faithful = Engine(ModelSet(faithful_dir, cpu))
        content = Engine(ModelSet(content_dir, cpu))
        standin = Engine(ModelSet(standin_dir, cpu))

        whole = FaithfulDetectEngine(faithful, content, faithful)
        whole_loop = run_loop(whole, source_for(faithful, scene), args.seconds, 5, scene)
        fast_swap = FaithfulDetectEngine(faithful, content, standin)
        standin_source = source_for(standin, scene)
        tracked = run_loop(fast_swap, standin_source, args.seconds / 2, 5, scene)
        every = run_loop(fast_swap, standin_source, args.seconds / 2, 1, scene)
    result = {
        "benchmark": "live loop on this CPU, 640x360 camera at 30 fps, largest face",
        "whole_loop_faithful_models": {"inswapper": "int8 (static QDQ)" if args.int8 else "fp32", **whole_loop},
        "detection_cost": {
            "note": "faithful det_10g, stand-in swap (a GPU-like loop rate); detect ms per processed frame",
            "with_tracking": tracked,
            "detect_every_frame": every,
            "ratio_every_frame_to_tracking": round(
                every["detect_ms_per_frame"] / max(tracked["detect_ms_per_frame"], 1e-6), 1),
        },
    }
    out = RESULTS if not args.int8 else RESULTS.with_name("live_loop_int8.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
