"""Face restoration is used only once its model is loaded.

Loading the restorer can take minutes (a GFPGAN .pth is converted with torch once) or fail (no file, a broken
one). So ticking Restore, or starting with it saved as on, loads it as a long job off the UI thread; until it
is loaded the live session and the photo batch get the options without restoration, and if it fails Restore
is unticked and the reason shown, while live goes on."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from PySide6.QtCore import QObject, Signal

from app.core.engine import Engine
from app.core.options import SwapOptions
from app.errors import DLCError
from app.gui.messages import user_text
from app.gui.tasks import TaskRunner

log = logging.getLogger(__name__)
PREPARING = "Preparing face restoration\u2026 (the first time, converting the model can take a few minutes)"


class RestoreGate(QObject):
    ready = Signal()  # the restorer is loaded: options with restoration may be used now
    failed = Signal(str)  # it could not be loaded: the reason, for the user
    message = Signal(str, str)  # text, level

    def __init__(self, tasks: TaskRunner, engine: Callable[[], Engine]) -> None:
        super().__init__()
        self._tasks = tasks
        self._engine = engine
        self._loading: asyncio.Task[bool] | None = None

    @property
    def loaded(self) -> bool:
        return self._engine().restorer_ready()

    @property
    def preparing(self) -> bool:
        return self._loading is not None and not self._loading.done()

    def usable(self, options: SwapOptions) -> SwapOptions:
        """`options` as they may be used now: without restoration while the restorer is not loaded."""
        return self._engine().options_ready_now(options)

    def prepare(self) -> asyncio.Task[bool] | None:
        """Load the restorer unless it is loaded or loading; the task's result says whether it is ready."""
        if self.loaded:
            return None
        if self._loading is None or self._loading.done():
            self._loading = self._tasks.spawn(self._load())
        return self._loading

    async def wait(self, options: SwapOptions) -> SwapOptions:
        """`options` once the restorer they ask for is loaded (without restoration if it cannot be)."""
        if options.restore is not None:
            task = self.prepare()
            if task is not None:
                await asyncio.shield(task)
        return self.usable(options)

    async def _load(self) -> bool:
        self.message.emit(PREPARING, "info")
        try:
            while True:
                engine = self._engine()
                await self._tasks.run_long(engine.prepare_restorer)
                if engine is self._engine():
                    break  # else the engine was renewed meanwhile (a model file changed): load into the new one
        except DLCError as exc:
            log.warning("face restoration unavailable: %s", exc)
            self.failed.emit(f"Face restoration is off: {user_text(exc)}")
            return False
        except Exception as exc:  # e.g. torch failing to convert a .pth: the same for the user, and logged
            log.exception("loading the face restorer failed")
            self.failed.emit(f"Face restoration is off: loading the restorer failed ({type(exc).__name__}: {exc})")
            return False
        self.message.emit("Face restoration is ready.", "info")
        self.ready.emit()
        return True
