"""A bounded inference pool: a few worker threads and a fixed number of waiting places.

Admission is decided when a request arrives: if every worker is busy and every waiting place is taken, the
request is refused at once (the caller answers 503 with Retry-After) instead of piling up. A job's place is
held until the job really ends, even when its client has gone away, so the bound is real.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")


class Overloaded(Exception):
    """Every worker and waiting place is taken."""

    def __init__(self, retry_after: int) -> None:
        super().__init__("the server is busy; try again shortly")
        self.retry_after = retry_after


class InferencePool:
    def __init__(self, workers: int, queue_limit: int) -> None:
        self.workers = workers
        self.queue_limit = queue_limit
        self._executor: ThreadPoolExecutor | None = None  # made on first use, again after a shutdown
        self._lock = threading.Lock()
        self._in_flight = 0
        self._completed = 0
        self._rejected = 0
        self._mean_s = 0.1  # running mean of job time, for Retry-After

    @property
    def capacity(self) -> int:
        return self.workers + self.queue_limit

    def submit(self, fn: Callable[[], T]) -> Future[T]:
        """Start `fn` on a worker, or raise Overloaded when no place is free."""
        with self._lock:
            if self._in_flight >= self.capacity:
                self._rejected += 1
                raise Overloaded(self._retry_after_locked())
            self._in_flight += 1
            if self._executor is None:
                self._executor = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="dlc-infer")
            executor = self._executor
        start = time.perf_counter()

        def timed() -> T:
            nonlocal start
            start = time.perf_counter()
            return fn()

        try:
            future = executor.submit(timed)
        except RuntimeError:  # shut down meanwhile (the server is stopping)
            self._release(None)
            raise Overloaded(5) from None
        future.add_done_callback(lambda _f: self._release(time.perf_counter() - start))
        return future

    async def run(self, fn: Callable[[], T]) -> T:
        """Run `fn` in the pool and await its result (Overloaded when full)."""
        return await asyncio.wrap_future(self.submit(fn))

    def _release(self, seconds: float | None) -> None:
        with self._lock:
            self._in_flight -= 1
            if seconds is not None:
                self._completed += 1
                self._mean_s = 0.8 * self._mean_s + 0.2 * seconds

    def _retry_after_locked(self) -> int:
        # Time for the work ahead of a new request to drain, rounded up to whole seconds.
        return max(1, math.ceil(self._mean_s * self._in_flight / self.workers))

    def stats(self) -> dict[str, int | float]:
        with self._lock:
            return {
                "workers": self.workers,
                "queue_limit": self.queue_limit,
                "in_flight": self._in_flight,
                "completed": self._completed,
                "rejected": self._rejected,
                "mean_ms": round(self._mean_s * 1000.0, 1),
            }

    def shutdown(self) -> None:
        """Wait for running jobs and drop waiting ones; a later submit starts fresh threads."""
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)
