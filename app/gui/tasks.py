"""Work off the UI thread: one executor for blocking engine and file work, awaited from asyncio (qasync)
coroutines, plus the engine itself, created lazily and renewed when model files change."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from app.core.engine import Engine
from app.core.models import ModelSet

log = logging.getLogger(__name__)
T = TypeVar("T")

ErrorHandler = Callable[[BaseException], None]


class EngineHolder:
    """One Engine over one ModelSet; `reset()` after the models folder changed (a download, a located file)."""

    def __init__(self, models_dir: Path, providers: Sequence[str] | None = None) -> None:
        self.models_dir = Path(models_dir)
        self.providers = list(providers) if providers else None
        self._engine: Engine | None = None

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = Engine(ModelSet(self.models_dir, self.providers))
        return self._engine

    def reset(self) -> None:
        self._engine = None


class TaskRunner:
    """Runs blocking calls in a small thread pool and coroutines as tasks whose errors reach `on_error`."""

    def __init__(self, on_error: ErrorHandler, workers: int = 2) -> None:
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="dlc-gui-task")
        self._on_error = on_error
        self._tasks: set[asyncio.Task[Any]] = set()
        self.closed = False

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Await `fn(*args)` run in the pool; the UI thread stays free meanwhile."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, fn, *args)

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

    def shutdown(self) -> None:
        """Cancel what has not started and wait for the calls that have (they are short: one image, one file)."""
        self.closed = True
        for task in list(self._tasks):
            task.cancel()
        self._executor.shutdown(wait=True, cancel_futures=True)
