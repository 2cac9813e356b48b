"""The swap on its own thread, beside the live worker, for the fluid render (app/core/fluid.py).

The worker renders every camera frame with the swaps it keeps; whenever this thread is free it hands it a job:
swap (and restore) some faces of the newest frame. Like the detector thread (app/live/async_detect.py) the
request box holds one job, a newer one replacing one not yet started, and the answer waits in a one-slot
result the worker polls. A job carries its frame by reference: callers must not change a frame after
submitting it (the live worker's frames are fresh per capture, and every paste works on a copy).
"""

from __future__ import annotations

import logging
import threading
import time

from app.core.fluid import SwapBatch, SwapJob
from app.live.latest import LatestBox, Stamped
from app.live.priority import lower_this_thread

log = logging.getLogger(__name__)


class AsyncSwapper:
    """A swap thread with a one-slot request box and a one-slot result. start(), then stop()."""

    def __init__(self, name: str = "dlc-swapper") -> None:
        self._requests: LatestBox[SwapJob] = LatestBox("worker->swapper")
        self._lock = threading.Lock()
        self._result: SwapBatch | None = None
        self._outstanding = False  # a job submitted and not yet answered
        self._stopping = threading.Event()
        self._seq = 0
        self.thread = threading.Thread(target=self._run, name=name, daemon=True)
        self.jobs = 0
        self.job_ms = 0.0

    # -- the worker's side -----------------------------------------------------------------------------

    @property
    def busy(self) -> bool:
        with self._lock:
            return self._outstanding

    def submit(self, job: SwapJob) -> None:
        """Ask for `job` to run; returns at once. Replaces a job not yet started."""
        with self._lock:
            self._seq += 1
            self._outstanding = not self._requests.closed
            self._requests.put(Stamped(job, time.perf_counter(), self._seq))

    def poll(self) -> SwapBatch | None:
        with self._lock:
            result, self._result = self._result, None
            return result

    # -- lifetime --------------------------------------------------------------------------------------

    def start(self) -> None:
        self.thread.start()

    def stop(self, timeout: float = 2.0) -> bool:
        """Refuse further jobs and wait (up to `timeout` s) for the thread; True when it ended. A job in progress
        (one model run per face) is finished first: the model cannot be interrupted."""
        self._stopping.set()
        self._requests.close()
        if self.thread.ident is not None:
            self.thread.join(max(0.0, timeout))
        return not self.thread.is_alive()

    # -- the swapper thread ----------------------------------------------------------------------------

    def _run(self) -> None:
        lower_this_thread()  # the camera's threads come first (app/live/priority.py)
        while not self._stopping.is_set():
            item = self._requests.get(timeout=0.1)
            if item is None:
                if self._requests.closed:
                    break
                continue
            t0 = time.perf_counter()
            try:
                result = item.value()
            except BaseException as exc:  # handed to the worker, which fails the session with it
                result = SwapBatch(error=exc)
            ms = (time.perf_counter() - t0) * 1000.0
            with self._lock:
                self._result = result
                self._outstanding = self._requests.peek_waiting() > 0
                self.jobs += 1
                self.job_ms += ms
            if result.error is not None and not isinstance(result.error, Exception):
                break
