"""The swap on its own thread, beside the live worker, for the fluid render (app/core/fluid.py).

The worker renders every camera frame with the swaps it keeps; whenever this thread is free it hands it a job:
swap (and restore) some faces of the newest frame. As for the detector thread (both are app/live/background.py) the
request box holds one job, a newer one replacing one not yet started, and the answer waits in a one-slot
result the worker polls. A job carries its frame by reference: callers must not change a frame after
submitting it (the live worker's frames are fresh per capture, and every paste works on a copy).
"""

from __future__ import annotations

import time
from typing import Any

from app.core.fluid import SwapBatch, SwapJob
from app.live.background import BackgroundCalls
from app.live.latest import Stamped


class AsyncSwapper(BackgroundCalls[SwapJob, SwapBatch]):
    """A swap thread with a one-slot request box and a one-slot result. start(), then stop(). A job in progress
    (one model run per face) is finished before stop() returns: the model cannot be interrupted."""

    def __init__(self, name: str = "dlc-swapper") -> None:
        super().__init__(name, "worker->swapper")
        self._seq = 0

    def submit(self, job: SwapJob) -> None:
        """Ask for `job` to run; returns at once. Replaces a job not yet started."""
        self._seq += 1
        self._put(job, time.perf_counter(), self._seq)

    def _call(self, request: SwapJob) -> Any:
        return request()

    def _answer(self, item: Stamped[SwapJob], outcome: Any, error: BaseException | None, ms: float) -> SwapBatch:
        return outcome if error is None else SwapBatch(error=error)
