"""Work off the UI thread, awaited from asyncio (qasync) coroutines, plus the engine itself, created lazily and
renewed when model files change.

Two kinds of blocking work, kept apart so that the one can never starve the other:
- short calls (live start and stop, reading a photo, one detection or swap) share a small thread pool; closing
  the window waits for the ones running, so no live-session thread is left behind;
- long jobs (downloads, whole videos, SHA-256 of a model file, copying one, preparing the restorer) each get a
  thread of their own (a daemon). Closing the window cancels those that can be cancelled, waits briefly for
  them to clean up, and does not wait for the rest.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Coroutine, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from app.core.engine import Engine
from app.core.options import EngineOptions
from app.core.sessions import ModelSet

log = logging.getLogger(__name__)
T = TypeVar("T")

ErrorHandler = Callable[[BaseException], None]
CANCELLED_JOB_GRACE_S = 5.0  # how long closing waits for cancelled long jobs to remove their partial files


class EngineHolder:
    """One Engine over one ModelSet; `reset()` after the models folder changed (a download, a located file) or
    the backend or precision did (`use`)."""

    def __init__(self, models_dir: Path, providers: Sequence[str] | None = None,
                 options: EngineOptions | None = None) -> None:
        self.models_dir = Path(models_dir)
        self.providers = list(providers) if providers else None
        self.options = options or EngineOptions()
        self._engine: Engine | None = None

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = Engine(ModelSet(self.models_dir, self.providers, self.options))
        return self._engine

    def use(self, options: EngineOptions) -> None:
        """Run the models this way from the next engine on."""
        if options != self.options:
            self.options = options
            self.reset()

    def reset(self) -> None:
        self._engine = None


@dataclass
class _LongJob:
    thread: threading.Thread
    cancel: Callable[[], None] | None


class TaskRunner:
    """Runs short blocking calls in a small thread pool, long jobs on threads of their own, and coroutines as
    tasks whose errors reach `on_error`."""

    def __init__(self, on_error: ErrorHandler, workers: int = 2) -> None:
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="dlc-gui-task")
        self._on_error = on_error
        self._tasks: set[asyncio.Task[Any]] = set()
        self._long: list[_LongJob] = []
        self._long_lock = threading.Lock()
        self.closed = False

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Await a short call `fn(*args)` run in the pool; the UI thread stays free meanwhile."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, fn, *args)

    async def run_long(self, fn: Callable[..., T], *args: Any, cancel: Callable[[], None] | None = None) -> T:
        """Await a long job `fn(*args)` on a daemon thread of its own, so it never holds a pool thread that a
        short call is waiting for. `cancel`, when given, makes the job end soon (it raises in `fn`); closing
        the window calls it and waits briefly for those jobs only."""
        if self.closed:
            raise RuntimeError("the task runner is shut down")
        future: Future[T] = Future()

        def work() -> None:
            if not future.set_running_or_notify_cancel():
                return
            try:
                future.set_result(fn(*args))
            except BaseException as exc:
                future.set_exception(exc)

        thread = threading.Thread(target=work, name="dlc-gui-long", daemon=True)
        with self._long_lock:
            self._long = [j for j in self._long if j.thread.is_alive()]
            self._long.append(_LongJob(thread, cancel))
        thread.start()
        return await asyncio.wrap_future(future)

    @property
    def long_jobs(self) -> int:
        """Long jobs still running."""
        with self._long_lock:
            return sum(1 for j in self._long if j.thread.is_alive())

    def spawn(self, coro: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
        """Start `coro` on the (qasync) event loop; an exception in it is reported, never lost."""
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._finished)
        return task

    @property
    def pending(self) -> int:
        return sum(1 for t in self._tasks if not t.done())

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None and not self.closed:
            self._on_error(exc)

    def shutdown(self, grace_s: float = CANCELLED_JOB_GRACE_S) -> None:
        """Cancel the tasks and the long jobs that can be cancelled; wait for the short calls already running
        (one image, one file, a live start or stop) and, up to `grace_s`, for the cancelled long jobs to tidy
        up. Long jobs that cannot be cancelled (a hash, a copy, a restorer conversion) are not waited for: they
        run on daemon threads and end with the process."""
        self.closed = True
        for task in list(self._tasks):
            task.cancel()
        with self._long_lock:
            jobs = [j for j in self._long if j.thread.is_alive()]
        for job in jobs:
            if job.cancel is not None:
                try:
                    job.cancel()
                except Exception:
                    log.exception("cancelling a background job failed")
        self._executor.shutdown(wait=True, cancel_futures=True)
        deadline = time.monotonic() + grace_s
        for job in jobs:
            if job.cancel is not None:
                job.thread.join(max(0.0, deadline - time.monotonic()))
        left = sum(1 for j in jobs if j.thread.is_alive())
        if left:
            log.info("%d background job(s) still running are left to end with the process", left)
