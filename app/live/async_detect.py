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

from typing import Any

from app.core.detection import DetectionResult, Detector
from app.core.types import Frame
from app.live.background import BackgroundCalls
from app.live.latest import Stamped


class AsyncDetector(BackgroundCalls[tuple[Frame, Detector], DetectionResult]):
    """A detector thread with a one-slot request box and a one-slot result. start(), then stop()."""

    def __init__(self, name: str = "dlc-detector", duty: float = 0.5) -> None:
        super().__init__(name, "worker->detector", duty)

    def submit(self, frame: Frame, seq: int, timestamp: float, detect: Detector) -> None:
        """Ask for a detection of `frame`; returns at once. Replaces a request not yet started."""
        self._put((frame, detect), timestamp, seq)

    def _call(self, request: tuple[Frame, Detector]) -> Any:
        frame, detect = request
        return detect(frame)

    def _answer(self, item: Stamped[tuple[Frame, Detector]], outcome: Any, error: BaseException | None,
                ms: float) -> DetectionResult:
        return DetectionResult(outcome if error is None else [], item.seq, item.captured_at, ms, error)
