"""The Photos tab: drag in images, each is swapped (and restored if on) in the background with progress;
before/after comparison; save one or all to a chosen folder; copy to the clipboard."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QGuiApplication, QIcon, QPixmap
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from app.core.engine import SourceFace
from app.core.errors import DLCError
from app.core.image_io import read_image, write_image
from app.core.types import Frame, SwapOptions
from app.gui.compare_view import CompareView
from app.gui.qimage import to_owned_qimage
from app.gui.source_panel import IMAGE_SUFFIXES, image_paths_from_mime
from app.gui.tasks import EngineHolder, TaskRunner

log = logging.getLogger(__name__)
THUMB = 72


@dataclass
class PhotoItem:
    path: Path
    state: str = "queued"  # queued, working, done, failed
    before: Frame | None = None
    after: Frame | None = None
    faces: int = 0
    error: str = ""

    @property
    def output_name(self) -> str:
        return f"{self.path.stem}_swapped.png"


class PhotosTab(QWidget):
    message = Signal(str, str)  # text, level
    batch_finished = Signal()

    def __init__(self, tasks: TaskRunner, engines: EngineHolder,
                 source: Callable[[], SourceFace | None], options: Callable[[], SwapOptions],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("photosTab")
        self.setAcceptDrops(True)
        self._tasks = tasks
        self._engines = engines
        self._source = source
        self._options = options
        self.items: list[PhotoItem] = []
        self._worker: asyncio.Task[None] | None = None
        self.folder = ""  # the last folder saved to

        self.list = QListWidget()
        self.list.setObjectName("photoList")
        self.list.setIconSize(QSize(THUMB, THUMB))
        self.list.setSpacing(2)
        self.list.setMinimumWidth(250)
        self.list.currentRowChanged.connect(self._show_row)
        self.compare = CompareView()
        self.caption = QLabel("")
        self.caption.setObjectName("caption")
        self.progress = QProgressBar()
        self.progress.setTextVisible(True)
        self.progress.setFormat("%v of %m")
        self.progress.hide()

        self.add_button = QPushButton("Add photos\u2026")
        self.save_button = QPushButton("Save")
        self.save_all_button = QPushButton("Save all")
        self.save_all_button.setToolTip("Save every result to a folder (Ctrl+S)")
        self.copy_button = QPushButton("Copy")
        self.copy_button.setToolTip("Copy the result to the clipboard")
        self.clear_button = QPushButton("Clear")
        self.add_button.clicked.connect(self._open_photos)
        self.save_button.clicked.connect(lambda: self.ask_and_save(selected_only=True))
        self.save_all_button.clicked.connect(lambda: self.ask_and_save(selected_only=False))
        self.copy_button.clicked.connect(self.copy_selected)
        self.clear_button.clicked.connect(self.clear)

        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        title = QLabel("Photos")
        title.setObjectName("sectionTitle")
        left_layout.addWidget(title)
        left_layout.addWidget(self.list, 1)
        left_layout.addWidget(self.progress)
        row = QHBoxLayout()
        row.addWidget(self.add_button)
        row.addWidget(self.clear_button)
        left_layout.addLayout(row)

        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.addWidget(self.compare, 1)
        bar = QHBoxLayout()
        bar.addWidget(self.caption, 1)
        for b in (self.copy_button, self.save_button, self.save_all_button):
            bar.addWidget(b)
        right_layout.addLayout(bar)

        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(left)
        split.addWidget(right)
        split.setStretchFactor(1, 1)
        split.setSizes([280, 900])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 12, 12, 12)
        layout.addWidget(split)
        self._update_buttons()

    # -- adding ---------------------------------------------------------------------------------------
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 - Qt naming
        if image_paths_from_mime(event):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 - Qt naming
        paths = image_paths_from_mime(event)
        if paths:
            event.acceptProposedAction()
            self.add_paths(paths)

    def _open_photos(self) -> None:
        patterns = " ".join(f"*{s}" for s in IMAGE_SUFFIXES)
        names, _ = QFileDialog.getOpenFileNames(self, "Add photos", self.folder, f"Images ({patterns})")
        if names:
            self.add_paths([Path(n) for n in names])

    def add_paths(self, paths: Sequence[Path]) -> asyncio.Task[None] | None:
        for path in paths:
            item = PhotoItem(Path(path))
            self.items.append(item)
            row = QListWidgetItem(item.path.name)
            row.setToolTip(str(item.path))
            self.list.addItem(row)
            self._refresh_row(len(self.items) - 1)
        if self.list.currentRow() < 0 and self.items:
            self.list.setCurrentRow(0)
        return self.resume()

    def resume(self) -> asyncio.Task[None] | None:
        """Process what is queued (again after a source face was chosen)."""
        if self._worker is not None and not self._worker.done():
            return self._worker
        if not any(i.state == "queued" for i in self.items):
            return None
        if self._source() is None:
            self.message.emit("Choose a source face first (Live tab): the photos wait for it.", "warning")
            return None
        self._worker = self._tasks.spawn(self._work())
        return self._worker

    @property
    def busy(self) -> bool:
        return self._worker is not None and not self._worker.done()

    async def _work(self) -> None:
        total = len(self.items)
        self.progress.setMaximum(total)
        self.progress.show()
        while True:
            queued = [i for i, it in enumerate(self.items) if it.state == "queued"]
            source = self._source()
            if not queued or source is None:
                break
            index = queued[0]
            item = self.items[index]
            item.state = "working"
            self._refresh_row(index)
            try:
                await self._process(item, source, self._options())
            except DLCError as exc:
                item.state, item.error = "failed", str(exc)
            except Exception as exc:
                log.exception("processing %s failed", item.path)
                item.state, item.error = "failed", f"{type(exc).__name__}: {exc}"
            if index < len(self.items) and self.items[index] is item:
                self._refresh_row(index)
                self.progress.setMaximum(len(self.items))
                self.progress.setValue(sum(1 for i in self.items if i.state in ("done", "failed")))
        self.progress.hide()
        failed = [i for i in self.items if i.state == "failed"]
        if failed:
            self.message.emit(f"{len(failed)} photo(s) could not be swapped: {failed[0].path.name}: "
                              f"{failed[0].error}", "warning")
        self._update_buttons()
        self.batch_finished.emit()

    async def _process(self, item: PhotoItem, source: SourceFace, options: SwapOptions) -> None:
        engine = self._engines.engine
        image = await self._tasks.run(read_image, item.path)
        item.before = image
        result = await self._tasks.run(engine.process, image, source, options)
        item.after, item.faces = result.frame, len(result.faces)
        item.state = "done"
        if not result.faces:
            item.error = "no face found"

    # -- showing ------------------------------------------------------------------------------------------
    def _refresh_row(self, index: int) -> None:
        item, row = self.items[index], self.list.item(index)
        status = {"queued": "waiting", "working": "working\u2026", "failed": item.error or "failed"}.get(
            item.state, f"{item.faces} face(s) swapped" if item.faces else "no face found")
        row.setText(f"{item.path.name}\n{status}")
        shown = item.after if item.after is not None else item.before
        if shown is not None:
            pix = QPixmap.fromImage(to_owned_qimage(shown)).scaled(
                THUMB, THUMB, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation)
            row.setIcon(QIcon(pix))
        if index == self.list.currentRow():
            self._show_row(index)
        self._update_buttons()

    def _show_row(self, index: int) -> None:
        if not 0 <= index < len(self.items):
            self.compare.set_images(None, None)
            self.caption.setText("")
            self._update_buttons()
            return
        item = self.items[index]
        self.compare.set_images(item.before, item.after)
        detail = {"done": f"{item.faces} face(s) swapped \u2014 drag across the picture to compare",
                  "failed": item.error}.get(item.state, item.state)
        self.caption.setText(f"{item.path.name}: {detail}")
        self._update_buttons()

    def _update_buttons(self) -> None:
        current = self.current_item()
        has_result = current is not None and current.after is not None
        self.save_button.setEnabled(has_result)
        self.copy_button.setEnabled(has_result)
        self.save_all_button.setEnabled(any(i.after is not None for i in self.items))

    def current_item(self) -> PhotoItem | None:
        row = self.list.currentRow()
        return self.items[row] if 0 <= row < len(self.items) else None

    def clear(self) -> None:
        if self._worker is not None and not self._worker.done():
            self._worker.cancel()
        self.items.clear()
        self.list.clear()
        self.progress.hide()
        self._show_row(-1)

    # -- saving and copying -------------------------------------------------------------------------------
    def ask_and_save(self, selected_only: bool = False) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Save results to", self.folder)
        if folder:
            self.save_to(Path(folder), selected_only)

    def save_to(self, folder: Path, selected_only: bool = False) -> asyncio.Task[list[Path]]:
        if selected_only:
            current = self.current_item()
            items = [current] if current is not None else []
        else:
            items = list(self.items)
        self.folder = str(folder)
        return self._tasks.spawn(self._save(folder, [i for i in items if i.after is not None]))

    async def _save(self, folder: Path, items: list[PhotoItem]) -> list[Path]:
        written: list[Path] = []
        try:
            for item in items:
                assert item.after is not None
                written.append(await self._tasks.run(write_image, folder / item.output_name, item.after))
        except DLCError as exc:
            self.message.emit(str(exc), "error")
            return written
        if written:
            self.message.emit(f"Saved {len(written)} photo(s) to {folder}", "info")
        else:
            self.message.emit("Nothing to save yet.", "warning")
        return written

    def copy_selected(self) -> None:
        item = self.current_item()
        if item is None or item.after is None:
            return
        QGuiApplication.clipboard().setImage(to_owned_qimage(item.after))
        self.message.emit(f"Copied {item.output_name} to the clipboard", "info")

    def results(self) -> list[Any]:
        return [i.after for i in self.items]
