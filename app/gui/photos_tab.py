"""The Photos tab: drag in images or videos, each is swapped (and restored if on) in the background with
progress; before/after comparison; save one or all to a chosen folder; copy to the clipboard.

A video is written as it is processed, to the output folder (the last folder saved to, else the video's own
folder), with a frame progress bar, the time left and a Cancel button; its comparison shows the first frame.
No result is written over an existing file: `<stem>_swapped-2.png`, ... are taken instead."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
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
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from app.core.image_io import read_image, write_image
from app.core.options import SwapOptions
from app.core.processor import FrameProcessor
from app.core.types import Frame
from app.errors import DLCError
from app.gui.compare_view import CompareView
from app.gui.job_progress import JobProgress
from app.gui.messages import user_text
from app.gui.paths import free_path, paths_from_mime
from app.gui.photo_item import PhotoItem
from app.gui.qimage import to_owned_qimage
from app.gui.tasks import EngineHolder, TaskRunner
from app.gui.video_jobs import (
    MEDIA_SUFFIXES,
    VideoJob,
    copy_video,
    open_dialog_filter,
)
from app.media import Progress, VideoCancelled

log = logging.getLogger(__name__)
THUMB = 72


class PhotosTab(QWidget):
    message = Signal(str, str)  # text, level
    batch_finished = Signal()
    video_progress = Signal(int, int, str)  # frames done, frames in all (0: unknown), time left

    def __init__(self, tasks: TaskRunner, engines: EngineHolder,
                 source: Callable[[], Any], options: Callable[[], SwapOptions],
                 parent: QWidget | None = None,
                 usable_options: Callable[[SwapOptions], Awaitable[SwapOptions]] | None = None) -> None:
        """`source` gives what to swap in: a SourceFace, a FaceMap of people and their sources, or None (the
        photos wait). `usable_options`, when given, turns the user's options into those a job may use now (it waits for
        the face restorer to load, and leaves restoration out if it cannot)."""
        super().__init__(parent)
        self.setObjectName("photosTab")
        self.setAcceptDrops(True)
        self._tasks = tasks
        self._engines = engines
        self._source = source
        self._options = options
        self._usable_options = usable_options
        self.items: list[PhotoItem] = []
        self._worker: asyncio.Task[None] | None = None
        self.video_job: VideoJob | None = None  # the video being processed
        self.folder = ""  # the last folder saved to; videos are written there

        self.list = QListWidget()
        self.list.setObjectName("photoList")
        self.list.setIconSize(QSize(THUMB, THUMB))
        self.list.setSpacing(2)
        self.list.setMinimumWidth(250)
        self.list.currentRowChanged.connect(self._show_row)
        self.compare = CompareView()
        self.caption = QLabel("")
        self.caption.setObjectName("caption")
        self.job_progress = JobProgress()
        self.job_progress.cancel_requested.connect(self.cancel_video)
        self.progress, self.cancel_button = self.job_progress.bar, self.job_progress.cancel_button

        self.add_button = QPushButton("Add\u2026")
        self.add_button.setToolTip("Add photos or videos (or drop them here)")
        self.save_button = QPushButton("Save")
        self.save_all_button = QPushButton("Save all")
        self.save_all_button.setToolTip("Save every result to a folder (Ctrl+S)")
        self.copy_button = QPushButton("Copy")
        self.copy_button.setToolTip("Copy the result to the clipboard")
        self.clear_button = QPushButton("Clear")
        self.folder_button = QPushButton("Output folder\u2026")
        self.folder_button.setToolTip("Videos are written next to each video until a folder is chosen")
        self.folder_button.clicked.connect(self._choose_folder)
        self.add_button.clicked.connect(self._open_photos)
        self.save_button.clicked.connect(lambda: self.ask_and_save(selected_only=True))
        self.save_all_button.clicked.connect(lambda: self.ask_and_save(selected_only=False))
        self.copy_button.clicked.connect(self.copy_selected)
        self.clear_button.clicked.connect(self.clear)

        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        title = QLabel("Photos and videos")
        title.setObjectName("sectionTitle")
        left_layout.addWidget(title)
        left_layout.addWidget(self.list, 1)
        left_layout.addWidget(self.job_progress)
        row = QHBoxLayout()
        row.addWidget(self.add_button)
        row.addWidget(self.folder_button)
        row.addWidget(self.clear_button)
        left_layout.addLayout(row)
        self.side = left_layout  # the main window adds the people with their own source below

        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.addWidget(self.compare, 1)
        bar = QHBoxLayout()
        bar.setContentsMargins(10, 0, 0, 0)  # keep the caption clear of the list's buttons
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
        if paths_from_mime(event, MEDIA_SUFFIXES):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 - Qt naming
        paths = paths_from_mime(event, MEDIA_SUFFIXES)
        if paths:
            event.acceptProposedAction()
            self.add_paths(paths)

    def _open_photos(self) -> None:
        names, _ = QFileDialog.getOpenFileNames(self, "Add photos or videos", self.folder, open_dialog_filter())
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
            self.message.emit("Choose a source face first (Live tab), or map a person: the photos wait for it.",
                              "warning")
            return None
        self._worker = self._tasks.spawn(self._work())
        return self._worker

    @property
    def busy(self) -> bool:
        return self._worker is not None and not self._worker.done()

    async def _work(self) -> None:
        self._show_batch_progress()
        while any(it.state == "queued" for it in self.items):
            options = self._options()
            if self._usable_options is not None:
                options = await self._usable_options(options)  # e.g. waits for the face restorer to load
            queued = [i for i, it in enumerate(self.items) if it.state == "queued"]
            source = self._source()
            if not queued or source is None:
                break
            index = queued[0]
            item = self.items[index]
            item.state = "working"
            self._refresh_row(index)
            try:
                if item.is_video:
                    await self._process_video(item, source, options)
                else:
                    await self._process(item, source, options)
            except VideoCancelled:
                item.state, item.error = "cancelled", "cancelled; nothing was written"
            except DLCError as exc:
                item.state, item.error = "failed", user_text(exc)
            except Exception as exc:
                log.exception("processing %s failed", item.path)
                item.state, item.error = "failed", f"{type(exc).__name__}: {exc}"
            if index < len(self.items) and self.items[index] is item:
                self._refresh_row(index)
                self._show_batch_progress()
        self.job_progress.finish()
        failed = [i for i in self.items if i.state == "failed"]
        if failed:
            self.message.emit(f"{len(failed)} file(s) could not be swapped: {failed[0].path.name}: "
                              f"{failed[0].error}", "warning")
        self._update_buttons()
        self.batch_finished.emit()

    def _show_batch_progress(self) -> None:
        finished = sum(1 for i in self.items if i.state in ("done", "failed", "cancelled"))
        self.job_progress.show_batch(finished, len(self.items))

    async def _process(self, item: PhotoItem, source: Any, options: SwapOptions) -> None:
        engine = self._engines.engine
        image = await self._tasks.run(read_image, item.path)
        item.before = image
        result = await self._tasks.run(FrameProcessor(engine).process, image, source, options)
        item.after, item.faces = result.frame, len(result.faces)
        item.state = "done"
        if not result.faces:
            item.error = "no face found"

    # -- videos -------------------------------------------------------------------------------------------
    def output_folder(self, item: PhotoItem) -> Path:
        """Where a video is written: the chosen folder, else next to the video itself."""
        if self.folder and Path(self.folder).is_dir():
            return Path(self.folder)
        return item.path.parent

    def _choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Write videos and saved photos to", self.folder)
        if folder:
            self.set_folder(folder)

    def set_folder(self, folder: str | Path) -> None:
        self.folder = str(folder)
        self.folder_button.setToolTip(f"Videos are written to {self.folder}")

    async def _process_video(self, item: PhotoItem, source: Any, options: SwapOptions) -> None:
        output = free_path(self.output_folder(item) / item.output_name)  # an earlier result is never replaced
        job = VideoJob(item.path, output, lambda p: self._show_video_progress(job, p),
                       lambda before, after: self._show_first_frame(item, before, after))
        self.video_job = job
        self.job_progress.start_video()
        try:
            report = await job.run(self._tasks, self._engines.engine, source, options)
        finally:
            if self.video_job is job:
                self.video_job = None
            self.job_progress.end_video()
        item.output, item.frames, item.faces = report.output, report.frames, job.frames_with_faces
        item.state = "done"
        if not item.faces:
            item.error = "no face found; the video was copied unchanged"
        self.message.emit(f"Wrote {report.output.name} ({report.frames} frames) to {report.output.parent}", "info")

    def _show_video_progress(self, job: VideoJob, p: Progress) -> None:
        if job is not self.video_job:
            return  # a job cleared away; its last report arrives late
        eta = self.job_progress.show_video(p)
        self.video_progress.emit(p.done, p.total or 0, eta)

    def _show_first_frame(self, item: PhotoItem, before: Frame, after: Frame) -> None:
        index = next((i for i, it in enumerate(self.items) if it is item), -1)
        if index >= 0:
            item.before, item.after = before, after
            self._refresh_row(index)

    def cancel_video(self) -> None:
        """Stop the video being swapped; process_video removes its temp file, so no output is left."""
        if self.video_job is not None:
            self.video_job.cancel()

    def shutdown(self) -> None:
        """Before the task pool waits for its calls: a video must stop rather than run to its end."""
        self.cancel_video()
        if self._worker is not None and not self._worker.done():
            self._worker.cancel()

    # -- showing ------------------------------------------------------------------------------------------
    def _refresh_row(self, index: int) -> None:
        item, row = self.items[index], self.list.item(index)
        row.setText(f"{item.path.name}\n{item.status}")
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
        detail = item.status if item.state != "done" else (
            f"{item.status} \u2014 first frame; drag across it to compare" if item.is_video
            else f"{item.faces} face(s) swapped \u2014 drag across the picture to compare")
        self.caption.setText(f"{item.path.name}: {detail}")
        self._update_buttons()

    @staticmethod
    def _has_result(item: PhotoItem) -> bool:
        if item.is_video:
            return item.state == "done" and item.output is not None
        return item.after is not None

    def _update_buttons(self) -> None:
        current = self.current_item()
        has_result = current is not None and self._has_result(current)
        self.save_button.setEnabled(has_result)
        self.copy_button.setEnabled(has_result and current is not None and not current.is_video)
        self.save_all_button.setEnabled(any(self._has_result(i) for i in self.items))

    def current_item(self) -> PhotoItem | None:
        row = self.list.currentRow()
        return self.items[row] if 0 <= row < len(self.items) else None

    def clear(self) -> None:
        self.shutdown()
        self.items.clear()
        self.list.clear()
        self.job_progress.finish()
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
        self.set_folder(folder)
        return self._tasks.spawn(self._save(folder, [i for i in items if self._has_result(i)]))

    async def _save(self, folder: Path, items: list[PhotoItem]) -> list[Path]:
        written: list[Path] = []
        try:
            for item in items:
                if item.is_video:  # already written: a copy, unless it is in that folder already
                    assert item.output is not None
                    if item.output.parent.resolve() == folder.resolve():
                        written.append(item.output)
                    else:
                        target = free_path(folder / item.output.name)
                        written.append(await self._tasks.run_long(copy_video, item.output, target))
                else:
                    assert item.after is not None
                    target = free_path(folder / item.output_name)  # never over an earlier result
                    written.append(await self._tasks.run(write_image, target, item.after))
        except (DLCError, OSError) as exc:
            self.message.emit(str(exc), "error")
            return written
        if written:
            noun = "file(s)" if any(i.is_video for i in items) else "photo(s)"
            self.message.emit(f"Saved {len(written)} {noun} to {folder}", "info")
        else:
            self.message.emit("Nothing to save yet.", "warning")
        return written

    def copy_selected(self) -> None:
        item = self.current_item()
        if item is None or item.after is None or item.is_video:
            return
        QGuiApplication.clipboard().setImage(to_owned_qimage(item.after))
        self.message.emit(f"Copied {item.output_name} to the clipboard", "info")

    def results(self) -> list[Any]:
        return [i.after for i in self.items]
