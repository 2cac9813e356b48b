"""CPU work per live frame beside the models: the capture hand-off, tracking, the host side of the swap and
the frame copies, for one face at 720p and 1080p and six faces at 1080p, with a moving face.

On a GPU the models take a few ms per frame, so this is what bounds the frame rate (issue 11: under 3 ms
for one face at 1080p on the 2-core development machine, so a 60 fps camera is not CPU-bound).

The scene is real photo content (insightface's t1.jpg, scaled so the face is as large as in a video call:
~210 px wide at 720p, ~320 px at 1080p; the six-face case at 1.5x) moved along a known path with sensor
noise: still for a second, then swaying (up to ~5 px per frame). Detection is the live default: every 5th
frame on a background detector that answers 3 frames later (tests/live/scene.py DelayedDetector), with the
true faces plus 2 px of jitter, so no model runs and the detector's own cost is not counted. Frames are
rendered before each timed frame, outside the timed part.

Per frame, timed (the process's CPU time by default: what the frame costs the CPU, steady on a busy machine;
--clock wall for elapsed time):
- capture: what the capture thread adds to a decoded frame (ascontiguousarray) and the capture -> worker
  hand-off (LatestBox put and get);
- track: Tracker.update;
- prepare: the host side of the swap, per face: the alignment matrix (models and crop warps excluded);
- output: the worker -> output hand-off.
`total` is their sum: the CPU work per frame of the live worker beside the models on the device path with
frames captured into FrameTransfer.host_frame() (pinned: uploads and downloads make no host copy).
`copy` is one copy of the frame (frame.copy()): what the CPU engine's swap adds (Engine.swap copies the
frame it pastes into), and what the device path adds when the capture delivers ordinary numpy frames (the
upload's staging copy); `+copy` is the total with it.

It also prints the tracker's accuracy on the same frames (how far the returned points are from the truth),
so a change that makes tracking cheaper can be seen not to make it worse.

    python -m benchmarks.bench_cpu_frame [--quick] [--frames N] [--threads 1] [--json out.json]

Runs against whatever `app` is first on the path, so the same file measures an older checkout
(PYTHONPATH=/path/to/old/checkout:. python -m benchmarks.bench_cpu_frame). Nothing is written unless --json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.append(str(ROOT))  # after any older checkout put first on purpose

STAGES = ("capture", "track", "prepare", "output")


@dataclass(frozen=True)
class Case:
    width: int
    height: int
    scale: float  # of t1.jpg
    faces: tuple[str, ...]  # names in tests/standins/faces_t1.json
    centre: tuple[float, float]  # where the window is centred, in t1.jpg pixels


CASES = {
    "720p x1": Case(1280, 720, 2.0, ("ross",), (518.0, 340.0)),
    "1080p x1": Case(1920, 1080, 3.0, ("ross",), (518.0, 340.0)),
    "1080p x6": Case(1920, 1080, 1.5, ("rachel", "monica", "ross", "chandler", "joey", "phoebe"), (640.0, 360.0)),
}


class MovingScene:
    """t1.jpg scaled, seen through a frame-sized window that moves along `offsets`, with sensor noise."""

    def __init__(self, case: Case, frames: int, still: int, seed: int = 0) -> None:
        from tests.standins import photos

        t1 = photos.t1()
        self.content = np.ascontiguousarray(cv2.resize(t1.image, None, fx=case.scale, fy=case.scale,
                                                       interpolation=cv2.INTER_LINEAR))
        self.size = (case.width, case.height)
        self.origin = np.array([case.centre[0] * case.scale - case.width / 2,
                                case.centre[1] * case.scale - case.height / 2])
        by_name = {f.name: f for f in t1.faces}
        self.points = np.array([by_name[n].points for n in case.faces], dtype=np.float64) * case.scale
        self.boxes = np.array([by_name[n].box for n in case.faces], dtype=np.float64) * case.scale
        # Still (at a sub-pixel position), then a sway of a quarter face width: a person on a call.
        amplitude = 0.25 * float(np.mean(self.boxes[:, 2] - self.boxes[:, 0]))
        k = np.arange(frames - still, dtype=np.float64) + 1.0
        sway = np.stack([amplitude * np.sin(2 * np.pi * k / 90.0), 0.3 * amplitude * np.sin(2 * np.pi * k / 45.0)], 1)
        self.offsets = np.concatenate([np.zeros((still, 2)), sway]) + np.array([0.37, 0.61])
        rng = np.random.default_rng(seed)
        shape = (case.height, case.width, 3)
        self.noise = [rng.normal(0.0, 2.0, shape).astype(np.int16) for _ in range(4)]

    def frame(self, i: int) -> np.ndarray:
        tx, ty = self.offsets[i] - self.origin
        matrix = np.array([[1.0, 0.0, tx], [0.0, 1.0, ty]])
        moved = cv2.warpAffine(self.content, matrix, self.size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        noisy = cv2.add(moved, self.noise[i % len(self.noise)], dtype=cv2.CV_8U)  # type: ignore[call-overload]
        return np.ascontiguousarray(noisy, dtype=np.uint8)

    def truth(self, i: int) -> np.ndarray:
        return self.points + (self.offsets[i] - self.origin)

    def truth_boxes(self, i: int) -> np.ndarray:
        return self.boxes + np.tile(self.offsets[i] - self.origin, 2)


class TruthDetector:
    """The true faces of the frame being processed, with 2 px of detector-like jitter."""

    def __init__(self, scene: MovingScene, seed: int = 1) -> None:
        self.scene = scene
        self.rng = np.random.default_rng(seed)
        self.index = 0

    def __call__(self, frame: np.ndarray) -> list:  # type: ignore[type-arg]
        from app.core.types import Face

        truth = self.scene.truth(self.index)
        shared = self.rng.normal(0, np.sqrt(2.0), (truth.shape[0], 1, 2))
        points = truth + shared + self.rng.normal(0, np.sqrt(2.0), truth.shape)
        boxes = self.scene.truth_boxes(self.index) + np.tile(shared[:, 0], 2)
        return [Face(tuple(float(v) for v in b), p.astype(np.float32), 0.9)  # type: ignore[arg-type]
                for b, p in zip(boxes, points, strict=True)]


def run_case(case: Case, frames: int, still: int, clock: Callable[[], float] = time.process_time) -> dict[str, object]:
    from app.core.swap import alignment_matrix
    from app.core.tracker import Tracker, TrackerConfig
    from app.live.latest import LatestBox, Stamped
    from tests.live.scene import DelayedDetector

    scene = MovingScene(case, frames, still)
    detector = TruthDetector(scene)
    background = DelayedDetector(3)
    tracker = Tracker(TrackerConfig(detect_every=5))
    capture_box: LatestBox[np.ndarray] = LatestBox("capture->worker")
    output_box: LatestBox[np.ndarray] = LatestBox("worker->output")
    times = {stage: [] for stage in (*STAGES, "copy")}  # type: ignore[var-annotated]
    errors = []
    for i in range(frames):
        frame = scene.frame(i)
        detector.index = i
        t0 = clock()
        captured = np.ascontiguousarray(frame, dtype=np.uint8)
        capture_box.put(Stamped(captured, i / 30.0, i))
        item = capture_box.get(0.0)
        assert item is not None
        t1 = clock()
        faces = tracker.update(item.value, i / 30.0, detector, "all", background)
        t2 = clock()
        matrices = [alignment_matrix(face.points, 128) for face in faces]
        t3 = clock()
        output_box.put(Stamped(item.value, item.captured_at, i))
        output_box.get(0.0)
        t4 = clock()
        item.value.copy()
        t5 = clock()
        for stage, a, b in zip((*STAGES, "copy"), (t0, t1, t2, t3, t4), (t1, t2, t3, t4, t5), strict=True):
            times[stage].append((b - a) * 1000.0)
        if len(faces) == len(scene.points) and matrices:
            found = np.array([f.points for f in faces], dtype=np.float64)
            truth = scene.truth(i)
            order = [int(np.argmin(np.linalg.norm(truth - f, axis=-1).mean(axis=1))) for f in found]
            errors.append((i, found - truth[order]))
    warm = slice(min(10, frames // 4), None)  # the first frames build tracks: not a steady state
    result: dict[str, object] = {
        "frame": f"{case.width}x{case.height}",
        "faces": len(case.faces),
        "face_width_px": round(float(np.mean(scene.boxes[:, 2] - scene.boxes[:, 0])), 1),
        "frames": frames,
        "detections": tracker.detections,
    }
    stage_ms = {stage: round(statistics.fmean(v[warm]), 3) for stage, v in times.items()}
    per_frame = [sum(times[s][k] for s in STAGES) for k in range(frames)][warm]
    with_copy = [sum(times[s][k] for s in (*STAGES, "copy")) for k in range(frames)][warm]
    result["stage_ms_mean"] = stage_ms
    result["total_ms_mean"] = round(statistics.fmean(per_frame), 3)
    result["total_with_copy_ms_mean"] = round(statistics.fmean(with_copy), 3)
    result["total_ms_median"] = round(statistics.median(per_frame), 3)
    result["total_ms_p90"] = round(float(np.percentile(per_frame, 90)), 3)
    result["track_ms_median"] = round(statistics.median(times["track"][warm]), 3)
    result["accuracy"] = accuracy(errors, still, scene)
    return result


def accuracy(errors: list[tuple[int, np.ndarray]], still: int, scene: MovingScene) -> dict[str, float]:
    """Still part (after 15 frames of settling): RMS wander about the mean and the largest error. Moving part:
    RMS error and the lag along the motion, in frames (error along the velocity over the speed)."""
    still_err = np.array([e for i, e in errors if 15 <= i < still])
    moving = [(i, e) for i, e in errors if i >= still + 15]
    out: dict[str, float] = {}
    if len(still_err):
        wander = float(np.sqrt(((still_err - still_err.mean(axis=0)) ** 2).sum(-1).mean()))
        out["still_wander_px"] = round(wander, 3)
        out["still_max_px"] = round(float(np.linalg.norm(still_err, axis=-1).max()), 3)
    if moving:
        lags, rms = [], []
        for i, e in moving:
            velocity = scene.offsets[i] - scene.offsets[i - 1]
            speed = float(np.linalg.norm(velocity))
            rms.append(float(np.sqrt((e**2).sum(-1).mean())))
            if speed > 1.0:
                lags.append(float(-(e.reshape(-1, 2) @ (velocity / speed)).mean()) / speed)
        out["moving_rms_px"] = round(statistics.fmean(rms), 3)
        out["moving_lag_frames"] = round(statistics.fmean(lags), 3) if lags else float("nan")
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="fewer frames: a smoke run")
    parser.add_argument("--frames", type=int, default=None, help="frames per case (default 240, quick 60)")
    parser.add_argument("--threads", type=int, default=None, help="OpenCV threads (default: OpenCV's)")
    parser.add_argument("--cases", default=",".join(CASES), help="comma-separated: " + ", ".join(CASES))
    parser.add_argument("--clock", choices=("cpu", "wall"), default="cpu",
                        help="cpu: the process's CPU time (default; steady on a busy machine), wall: elapsed")
    parser.add_argument("--json", type=Path, default=None, help="also write the results to this file")
    args = parser.parse_args(argv)
    if args.threads is not None:
        cv2.setNumThreads(args.threads)
    frames = args.frames or (60 if args.quick else 240)
    still = min(45, frames // 3)
    import app.core.tracker as tracker_module

    clock = time.process_time if args.clock == "cpu" else time.perf_counter
    results = {name: run_case(CASES[name], frames, still, clock) for name in args.cases.split(",")}
    report = {
        "benchmark": "CPU work per live frame beside the models",
        "tracker_module": str(Path(tracker_module.__file__).resolve()),
        "opencv": cv2.__version__,
        "opencv_threads": cv2.getNumThreads(),
        "clock": args.clock,
        "cases": results,
    }
    if args.json is not None:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    print(f"tracker from {report['tracker_module']}; OpenCV {cv2.__version__}, {cv2.getNumThreads()} threads; "
          f"{args.clock} ms per frame")
    print(f"{'case':10} {'total':>7} {'median':>7} {'p90':>7} {'+copy':>7} | "
          + " ".join(f"{s:>8}" for s in (*STAGES, "copy")) + " | accuracy")
    for name, r in results.items():
        stages = r["stage_ms_mean"]  # type: ignore[index]
        acc = " ".join(f"{k} {v}" for k, v in r["accuracy"].items())  # type: ignore[union-attr]
        print(f"{name:10} {r['total_ms_mean']:>7.2f} {r['total_ms_median']:>7.2f} {r['total_ms_p90']:>7.2f} "
              f"{r['total_with_copy_ms_mean']:>7.2f} | " + " ".join(f"{stages[s]:>8.3f}" for s in (*STAGES, "copy"))
              + f" | {acc}")


if __name__ == "__main__":
    main()
