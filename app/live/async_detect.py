"""Scheduled face detection on its own thread, beside the live worker.

The worker keeps tracking (optical flow) and swapping every frame; every few frames it hands one frame to
this thread and carries on. The request box holds one frame: a newer request replaces an unread one (the
newest frame wins). A result carries its frame's sequence number and capture time, so the tracker can bring
it forward to the frame it is on (app/live/tracker.py). Frames are read, never written, here: callers must not
change a frame after submitting it (the live worker's frames are fresh per capture and swaps copy them).

The thread keeps to a duty cycle (`duty`, half by default): after a detection of d ms it takes no request for
another d * (1 / duty - 1) ms. On a GPU (a few ms a detection) that never binds; on a CPU, where a detection takes
hundreds of ms and the fluid render makes the tracker ask every few of 30 frames a second, it leaves the swap
model the CPU that detecting back to back would take, while flow keeps the faces between detections.
"""

from __future__ import annotations

import logging
import threading
import time

from app.core.detection import DetectionResult, Detector
from app.core.types import Face, Frame
from app.live.latest import LatestBox, Stamped
from app.live.priority import lower_this_thread

log = logging.getLogger(__name__)

class AsyncDetector:
    """A detector thread with a one-slot request box and a one-slot result. start(), then stop()."""

    def __init__(self, name: str = "dlc-detector", duty: float = 0.5) -> None:
        if not 0.0 < duty <= 1.0:
            raise ValueError(f"a duty cycle is in (0, 1], got {duty}")
        self.duty = duty
        self._rest_until = 0.0  # no new request is taken before then (perf_counter seconds)
        self._requests: LatestBox[tuple[Frame, Detector]] = LatestBox("worker->detector")
        self._lock = threading.Lock()
        self._result: DetectionResult | None = None
        self._outstanding = False  # a request submitted and not yet answered
        self._stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, name=name, daemon=True)
        self.detections = 0
        self.detect_ms = 0.0

    # -- the worker's side -----------------------------------------------------------------------------

    @property
    def busy(self) -> bool:
        """A request is waiting or running, or the thread rests after one (its duty cycle)."""
        with self._lock:
            return self._outstanding or time.perf_counter() < self._rest_until

    def submit(self, frame: Frame, seq: int, timestamp: float, detect: Detector) -> None:
        """Ask for a detection of `frame`; returns at once. Replaces a request not yet started."""
        with self._lock:
            self._outstanding = not self._requests.closed
            self._requests.put(Stamped((frame, detect), timestamp, seq))

    def poll(self) -> DetectionResult | None:
        with self._lock:
            result, self._result = self._result, None
            return result

    # -- lifetime --------------------------------------------------------------------------------------

    def start(self) -> None:
        self.thread.start()

    def stop(self, timeout: float = 2.0) -> bool:
        """Refuse further requests and wait (up to `timeout` s) for the thread; True when it ended. A
        detection in progress is finished first, so the bound must exceed one detection."""
        self._stopping.set()
        self._requests.close()
        if self.thread.ident is not None:
            self.thread.join(max(0.0, timeout))
        return not self.thread.is_alive()

    # -- the detector thread ---------------------------------------------------------------------------

    def _run(self) -> None:
        lower_this_thread()  # the camera's threads come first (app/live/priority.py)
        while not self._stopping.is_set():
            item = self._requests.get(timeout=0.1)
            if item is None:
                if self._requests.closed:
                    break
                continue
            frame, detect = item.value
            t0 = time.perf_counter()
            faces: list[Face] = []
            error: BaseException | None = None
            try:
                faces = detect(frame)
            except BaseException as exc:  # handed to the worker, which fails the session with it
                error = exc
            ms = (time.perf_counter() - t0) * 1000.0
            with self._lock:
                self._result = DetectionResult(faces, item.seq, item.captured_at, ms, error)
                self._outstanding = self._requests.peek_waiting() > 0
                self._rest_until = time.perf_counter() + ms / 1000.0 * (1.0 / self.duty - 1.0)
                self.detections += 1
                self.detect_ms += ms
            if error is not None and not isinstance(error, Exception):
                break
