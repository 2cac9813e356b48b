"""Loading the source photo and preparing the chosen face, off the UI thread."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from app.core.analysis import largest_face
from app.core.engine import Engine, SourceFace
from app.core.image_io import read_image
from app.core.options import SwapOptions
from app.core.types import Face, Frame
from app.errors import DLCError
from app.gui.messages import user_text
from app.gui.source_panel import SourcePanel
from app.gui.tasks import EngineHolder, TaskRunner

log = logging.getLogger(__name__)


def prepare_face(engine: Engine, image: Frame, face: Face) -> SourceFace:
    """The source for one chosen face of a photo."""
    return engine.prepare_source(image, face=face)


class SourceController(QObject):
    source_changed = Signal(object)  # SourceFace or None
    loaded = Signal(str)  # path of a photo that was read and searched for faces
    message = Signal(str, str)  # text, level

    def __init__(self, tasks: TaskRunner, engines: EngineHolder, panel: SourcePanel,
                 options: Callable[[], SwapOptions]) -> None:
        super().__init__()
        self._tasks = tasks
        self._engines = engines
        self._panel = panel
        self._options = options
        self.path = ""
        self.image: Frame | None = None
        self.faces: list[Face] = []
        self.selected = -1
        self.source: SourceFace | None = None
        self._generation = 0  # a newer photo makes an older, slower load's result stale
        panel.photo_dropped.connect(self.load)
        panel.face_clicked.connect(self.pick)

    def load(self, path: str) -> asyncio.Task[None]:
        self._generation += 1
        self._panel.say(f"Looking for faces in {Path(path).name}\u2026")
        return self._tasks.spawn(self._load(path, self._generation))

    async def _load(self, path: str, generation: int) -> None:
        engine = self._engines.engine
        try:
            image = await self._tasks.run(read_image, path)
            faces = await self._tasks.run(engine.detect, image, self._options())
        except DLCError as exc:
            if generation == self._generation:
                self._panel.say(user_text(exc), "error")
                self.message.emit(user_text(exc), "error")
            return
        if generation != self._generation:
            return
        self.path, self.image, self.faces = path, image, faces
        self.loaded.emit(path)
        if not faces:
            self.selected = -1
            self._panel.view.set_photo(image, [], -1)
            self._panel.say("No face found in this photo. Try a clear, front-facing one.", "warning")
            self._set_source(None)
            return
        big = largest_face(faces)
        index = faces.index(big) if big is not None else 0
        self._panel.view.set_photo(image, faces, index)
        await self._prepare(index, generation)

    def pick(self, index: int) -> asyncio.Task[None] | None:
        if self.image is None or not 0 <= index < len(self.faces) or index == self.selected:
            return None
        self._panel.view.set_selected(index)
        return self._tasks.spawn(self._prepare(index, self._generation))

    async def _prepare(self, index: int, generation: int) -> None:
        assert self.image is not None
        self.selected = index
        engine = self._engines.engine
        try:
            source = await self._tasks.run(prepare_face, engine, self.image, self.faces[index])
        except DLCError as exc:
            self._panel.say(user_text(exc), "error")
            self.message.emit(user_text(exc), "error")
            return
        if generation != self._generation or index != self.selected:
            return
        n = len(self.faces)
        more = f" \u2014 {n} faces found, click another to use it" if n > 1 else ""
        self._panel.say(f"Using face {index + 1} of {n}{more}", "ok")
        self._set_source(source)

    def _set_source(self, source: SourceFace | None) -> None:
        self.source = source
        self.source_changed.emit(source)
