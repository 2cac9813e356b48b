"""Scheduled detection beside the worker: the worker never waits for it, and a late answer still lands on
the face (brought forward by the flow since its frame). Real photo content (t1.jpg) moved along a known path."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from app.core.tracker import Tracker, TrackerConfig
from app.core.types import Face, Frame
from app.live.async_detect import AsyncDetector
from tests.live.scene import DelayedDetector, JitterDetector, Scene, load_t1, still_then_moving

SPEED, ANGLE = 4.0, 190.0


@pytest.fixture(scope="module")
def scene() -> Scene:
    return Scene(load_t1(), still_then_moving(10, 50, SPEED, ANGLE))


def fingerprint(frame: Frame) -> bytes:
    return frame[::37, ::41].tobytes()


class SlowTruthDetector:
    """Takes `cost_s` (sleeping, as if on another core or the GPU), then returns the true faces of the
    frame it was given, found by the frame's content: it may be called from any thread."""

    def __init__(self, scene: Scene, frames: dict[bytes, int], cost_s: float) -> None:
        self.jitter = JitterDetector(scene, sigma=1.0, seed=11)
        self.frames, self.cost_s = frames, cost_s
        self.calls: list[tuple[int, str]] = []
        self.lock = threading.Lock()

    def __call__(self, frame: Frame) -> list[Face]:
        time.sleep(self.cost_s)
        with self.lock:
            self.jitter.index = self.frames[fingerprint(frame)]
            self.calls.append((self.jitter.index, threading.current_thread().name))
            return self.jitter(frame)


def test_slow_detector_never_holds_up_the_worker(scene: Scene) -> None:
    """Detection takes 200 ms; after the first frame (nothing to track yet: detected at once) no update()
    includes it, though detections keep coming and correcting the tracks."""
    frames = {fingerprint(scene.frame(i)): i for i in range(len(scene.offsets))}
    detect = SlowTruthDetector(scene, frames, cost_s=0.2)
    background = AsyncDetector("dlc-detector-test", duty=1.0)  # back to back: as many answers as it can give
    background.start()
    tracker = Tracker(TrackerConfig(detect_every=5))
    update_s, errors = [], []
    try:
        t_start = time.perf_counter()
        for i in range(len(scene.offsets)):
            frame = scene.frame(i)
            t0 = time.perf_counter()
            faces = tracker.update(frame, i / 30.0, detect, "all", background)
            update_s.append(time.perf_counter() - t0)
            truth = scene.truth(i)
            errors.append(np.linalg.norm(np.array([f.points for f in faces]) - truth, axis=-1).mean())
            time.sleep(max(0.0, t_start + (i + 1) / 30.0 - time.perf_counter()))  # a 30 fps camera
    finally:
        assert background.stop(2.0)
    assert not background.thread.is_alive()
    assert update_s[0] >= 0.2  # the first detection is synchronous: nothing to track with yet
    background_calls = [k for k, thread in detect.calls if thread == "dlc-detector-test"]
    assert len(detect.calls) - len(background_calls) == 1  # all but the first ran beside the worker...
    assert float(np.median(update_s[1:])) < 0.1, update_s  # ...so frames do not wait for a 200 ms detection
    assert len(background_calls) >= 5 and tracker.detection_ratio <= 0.25
    assert tracker.track_ids() == list(range(1, len(scene.truth(0)) + 1))  # identities held
    assert float(np.mean(errors[15:])) < 2.0 and float(np.max(errors[15:])) < 4.0


@pytest.mark.parametrize("delay", [3, 8])
def test_late_detection_lands_on_the_face(scene: Scene, delay: int) -> None:
    """A detection answered `delay` frames late, while faces move 4 px/frame: the detected points are
    4*delay px behind the faces, but brought forward by flow they correct the tracks where the faces are."""
    background = DelayedDetector(delay)
    detector = JitterDetector(scene, sigma=0.5, seed=5)
    tracker = Tracker(TrackerConfig(detect_every=delay + 1))
    landed: list[float] = []
    for i in range(len(scene.offsets)):
        detector.index = i
        before = len(background.delivered)
        faces = tracker.update(scene.frame(i), i / 30.0, detector, "all", background)
        err = np.linalg.norm(np.array([f.points for f in faces]) - scene.truth(i), axis=-1)
        if len(background.delivered) > before and i > 15:
            k = background.delivered[-1][0] - 1  # the result's frame (sequence numbers count from 1)
            stale = np.linalg.norm(detector.raw[k] - scene.truth(i), axis=-1).mean()
            assert stale > 0.9 * SPEED * delay  # the raw answer is far behind the face...
            landed.append(float(err.mean()))
            assert err.max() < 4.0, (i, err.max())  # ...but the corrected track is on it
    assert len(landed) >= 4 and np.mean(landed) < 2.0
    assert tracker.track_ids() == list(range(1, len(scene.truth(0)) + 1))


def test_detector_thread_hands_back_errors_and_stops_promptly() -> None:
    background = AsyncDetector("dlc-detector-test")
    background.start()

    def broken(frame: Frame) -> list[Face]:
        raise RuntimeError("detector failed")

    background.submit(np.zeros((8, 8, 3), np.uint8), 7, 1.0, broken)
    deadline = time.perf_counter() + 2.0
    result = None
    while result is None and time.perf_counter() < deadline:
        result = background.poll()
        time.sleep(0.01)
    assert result is not None and result.seq == 7 and isinstance(result.error, RuntimeError)
    assert not background.busy
    t0 = time.perf_counter()
    assert background.stop(5.0) and time.perf_counter() - t0 < 5.0
    background.submit(np.zeros((8, 8, 3), np.uint8), 8, 1.0, broken)  # ignored once stopped
    assert not background.busy and background.poll() is None


def test_the_detector_keeps_to_its_duty_cycle() -> None:
    """Asked again as soon as it is free, a detector with duty 0.5 and 80 ms detections starts one at most every
    160 ms: on a CPU the swap model gets the rest."""
    background = AsyncDetector("dlc-detector-test", duty=0.5)
    background.start()
    starts: list[float] = []

    def slow(frame: Frame) -> list[Face]:
        starts.append(time.perf_counter())
        time.sleep(0.08)
        return []

    frame = np.zeros((8, 8, 3), np.uint8)
    try:
        deadline = time.perf_counter() + 1.5
        seq = 0
        while time.perf_counter() < deadline:
            background.poll()
            if not background.busy:
                seq += 1
                background.submit(frame, seq, 0.0, slow)
            time.sleep(0.005)
    finally:
        assert background.stop(2.0)
    gaps = np.diff(starts)
    assert len(starts) >= 4 and gaps.min() >= 0.155, gaps  # 80 ms working, then at least 80 ms resting
    with pytest.raises(ValueError):
        AsyncDetector(duty=0.0)
