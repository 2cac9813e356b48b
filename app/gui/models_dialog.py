"""The model dialog: each file ok / missing / corrupt; Download (progress, cancel, resume, hash check);
"Locate file..." for a file the user already has (checked before it is used); open the models folder;
"Optimize for CPU..." builds the int8 swapper (app/core/int8.py) with progress and cancel, and shows its
quality report."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtGui import QColor, QDesktopServices
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.core.int8 import int8_status
from app.core.int8_report import Int8Report, Progress
from app.errors import Cancelled, DLCError
from app.gui.tasks import TaskRunner
from app.models.download import download
from app.models.fetch import DownloadCancelled, FetchOptions, ProgressCallback
from app.models.install import install_local_file
from app.models.manifest import MODEL_FILES, ModelFile, human_size
from app.models.status import FileStatus, HashCancelled, HashProgress, Status, verify

STATUS_TEXT = {Status.OK: "ok", Status.PRESENT: "present", Status.MISSING: "missing", Status.CORRUPT: "corrupt",
               Status.UNCONFIRMED: "unverified"}
STATUS_COLOUR = {Status.OK: "#3fb950", Status.PRESENT: "#3fb950", Status.MISSING: "#f85149",
                 Status.CORRUPT: "#f85149", Status.UNCONFIRMED: "#e3b341"}
FIRST_START = (
    "<b>Deep Live Cam needs its model files before it can swap faces.</b><br>"
    "Face detection and recognition (insightface buffalo_l) and the face swap model (inswapper_128) are "
    "required; face restoration (GFPGAN v1.4) is optional. They are not bundled because of their size "
    "(about 1 GB) and their licences (insightface's models are for non-commercial research only). "
    "Download them here, or locate files you already have; every file is checked against its SHA-256."
)


class ModelsDialog(QDialog):
    models_changed = Signal()
    progress_signal = Signal(str, int, object)  # label, done bytes, total bytes or None (from the worker thread)
    optimize_signal = Signal(str, int, int)  # stage, done, total (from the worker thread)

    def __init__(self, models_dir: Path, tasks: TaskRunner, files: Sequence[ModelFile] = MODEL_FILES,
                 first_start: bool = False, fetch_options: FetchOptions | None = None,
                 parent: QWidget | None = None, source_photos: Callable[[], Sequence[Path]] | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("modelsDialog")
        self.setWindowTitle("Models")
        self.setModal(False)
        self.resize(980, 580)
        self.models_dir = Path(models_dir)
        self.files = list(files)
        self._tasks = tasks
        self._fetch_options = fetch_options or FetchOptions()
        self._cancel = threading.Event()
        self.statuses: dict[str, FileStatus] = {}
        self.busy = False
        self._source_photos = source_photos  # the user's current source photo(s): calibrated on too
        self.int8_state = ""

        self.intro = QLabel(FIRST_START if first_start else "")
        self.intro.setObjectName("intro")
        self.intro.setWordWrap(True)
        self.intro.setVisible(first_start)
        self.folder_label = QLabel(f"Models folder: {self.models_dir}")
        self.folder_label.setObjectName("caption")
        self.folder_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.table = QTableWidget(len(self.files), 4)
        self.table.setHorizontalHeaderLabels(["File", "Purpose", "Size", "Status"])
        self.table.verticalHeader().setVisible(False)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(3, QHeaderView.ResizeMode.ResizeToContents)
        self.table.itemSelectionChanged.connect(self._update_buttons)
        self.detail = QLabel("")
        self.detail.setObjectName("caption")
        self.detail.setWordWrap(True)
        self.progress = QProgressBar()
        self.progress.hide()
        self.progress_label = QLabel("")
        self.progress_label.setObjectName("caption")

        self.download_button = QPushButton("Download missing")
        self.download_button.setObjectName("primaryButton")
        self.download_selected_button = QPushButton("Download selected")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.locate_button = QPushButton("Locate file\u2026")
        self.verify_button = QPushButton("Verify")
        self.verify_button.setToolTip("Check every file's SHA-256 (reads each file once)")
        self.folder_button = QPushButton("Open models folder")
        self.optimize_button = QPushButton("Optimize for CPU\u2026")
        self.optimize_button.setToolTip(
            "Build an int8 copy of the face swap model, about twice as fast on a CPU (a few minutes, once). It is "
            "checked against the original on faces it was not calibrated on, and used (Precision: int8) only "
            "when it passes.")
        self.int8_label = QLabel("")
        self.int8_label.setObjectName("caption")
        self.int8_label.setWordWrap(True)
        self.int8_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        close = QPushButton("Close")
        self.download_button.clicked.connect(lambda: self.start_download(self.missing_files()))
        self.download_selected_button.clicked.connect(
            lambda: self.start_download([f for f in [self.selected_file()] if f is not None]))
        self.cancel_button.clicked.connect(self.cancel)
        self.locate_button.clicked.connect(self._ask_locate)
        self.verify_button.clicked.connect(lambda: self.refresh(full=True))
        self.folder_button.clicked.connect(self.open_folder)
        self.optimize_button.clicked.connect(self.start_optimize)
        close.clicked.connect(self.close)
        self.progress_signal.connect(self._show_progress)
        self.optimize_signal.connect(self._show_optimize_progress)

        buttons = QHBoxLayout()
        for b in (self.download_button, self.download_selected_button, self.cancel_button, self.locate_button,
                  self.verify_button, self.optimize_button, self.folder_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        buttons.addWidget(close)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 16, 16, 16)
        layout.setSpacing(10)
        layout.addWidget(self.intro)
        layout.addWidget(self.folder_label)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.detail)
        layout.addWidget(self.int8_label)
        layout.addWidget(self.progress_label)
        layout.addWidget(self.progress)
        layout.addLayout(buttons)
        self.refresh(full=False)
        self._tasks.spawn(self._show_int8_status())

    # -- status -------------------------------------------------------------------------------------------
    def refresh(self, full: bool = False, only: Sequence[ModelFile] | None = None) -> None:
        """Size check at once (no file read); a full hash check runs off the UI thread."""
        files = list(only) if only is not None else self.files
        if not full:
            self._show_statuses(verify(self.models_dir, files, full=False))
            return
        if self.busy:
            return
        self._cancel.clear()
        self._tasks.spawn(self._verify(files))

    def _hash_progress(self, file: ModelFile) -> HashProgress:
        return lambda done, total: not self._cancel.is_set()

    def _full_check(self, files: Sequence[ModelFile]) -> list[FileStatus]:
        """SHA-256 of each file (a long job: cancelled with the dialog's Cancel or by closing the window)."""
        return verify(self.models_dir, files, full=True, progress_for=self._hash_progress)

    async def _verify(self, files: list[ModelFile]) -> None:
        self._set_busy(True, "Checking SHA-256\u2026")
        message = ""
        try:
            self._show_statuses(await self._tasks.run_long(self._full_check, files, cancel=self._cancel.set))
        except HashCancelled:
            message = "Check cancelled."
        finally:
            self._set_busy(False, message)

    def _show_statuses(self, found: Sequence[FileStatus]) -> None:
        for fs in found:
            self.statuses[fs.file.key] = fs
        for row, f in enumerate(self.files):
            s = self.statuses.get(f.key)
            need = "required" if f.required else "optional"
            name = QTableWidgetItem(f.relpath)
            name.setToolTip(str(f.path_in(self.models_dir)))
            purpose = QTableWidgetItem(f"{f.purpose} \u2014 {need}")
            purpose.setToolTip(f.note or f.provenance)
            size = QTableWidgetItem(human_size(f.size) if f.size is not None else "\u2014")
            status = QTableWidgetItem(STATUS_TEXT[s.status] if s else "\u2026")
            if s is not None:
                optional_missing = s.status is Status.MISSING and not f.required
                status.setForeground(QColor("#8b949e" if optional_missing else STATUS_COLOUR[s.status]))
                status.setToolTip(s.detail)
            for col, item in enumerate((name, purpose, size, status)):
                self.table.setItem(row, col, item)
        self._update_buttons()

    def status_text(self, key: str) -> str:
        s = self.statuses.get(key)
        return STATUS_TEXT[s.status] if s else ""

    def missing_files(self) -> list[ModelFile]:
        bad = (Status.MISSING, Status.CORRUPT)
        return [f for f in self.files if f.downloadable and f.fetched_by_default
                and (s := self.statuses.get(f.key)) is not None and s.status in bad]

    def selected_file(self) -> ModelFile | None:
        rows = self.table.selectionModel().selectedRows()
        return self.files[rows[0].row()] if rows else None

    def _update_buttons(self) -> None:
        selected = self.selected_file()
        self.download_button.setEnabled(not self.busy and bool(self.missing_files()))
        self.download_selected_button.setEnabled(not self.busy and selected is not None and selected.downloadable)
        self.locate_button.setEnabled(not self.busy and selected is not None)
        self.verify_button.setEnabled(not self.busy)
        self.cancel_button.setEnabled(self.busy)
        self.optimize_button.setEnabled(not self.busy and self.int8_state not in ("", "no-model"))
        current = self.statuses.get(selected.key) if selected is not None else None
        self.detail.setText(f"{selected.relpath}: {current.detail}" if selected and current else "")

    def _set_busy(self, busy: bool, text: str) -> None:
        self.busy = busy
        self.progress_label.setText(text)
        self.progress.setVisible(busy)
        if busy:
            self.progress.setRange(0, 0)
        self._update_buttons()

    # -- download -----------------------------------------------------------------------------------------
    def start_download(self, files: Sequence[ModelFile]) -> object:
        if self.busy or not files:
            return None
        self._cancel.clear()
        return self._tasks.spawn(self._download(list(files)))

    def cancel(self) -> None:
        self._cancel.set()
        self.progress_label.setText("Cancelling\u2026")

    def _progress_for(self, label: str) -> ProgressCallback:
        def progress(done: int, total: int | None) -> bool:
            self.progress_signal.emit(label, done, total)  # worker thread -> UI thread (queued)
            return not self._cancel.is_set()

        return progress

    def _show_progress(self, label: str, done: int, total: object) -> None:
        if not self.busy:
            return
        if isinstance(total, int) and total > 0:
            self.progress.setRange(0, 1000)
            self.progress.setValue(int(1000 * done / total))
            self.progress_label.setText(f"{label}: {human_size(done)} of {human_size(total)}")
        else:
            self.progress.setRange(0, 0)
            self.progress_label.setText(f"{label}: {human_size(done)}")

    async def _download(self, files: list[ModelFile]) -> None:
        self._set_busy(True, "Connecting\u2026")
        message, ok = "", False
        try:
            await self._tasks.run_long(lambda: download(self.models_dir, files, progress_for=self._progress_for,
                                                        options=self._fetch_options), cancel=self._cancel.set)
            message, ok = f"Downloaded and verified: {', '.join(f.relpath for f in files)}", True
        except DownloadCancelled:
            message = "Download cancelled. What arrived is kept and the next download resumes from there."
        except DLCError as exc:
            message = f"Download failed: {exc}"
        finally:
            self._set_busy(False, message)
        await self._show_checked(files)
        if ok:
            self.models_changed.emit()

    # -- locate -------------------------------------------------------------------------------------------
    def _ask_locate(self) -> None:
        f = self.selected_file()
        if f is None:
            return
        name, _ = QFileDialog.getOpenFileName(self, f"Locate {f.filename}", str(Path.home()),
                                              f"{f.filename} (*{Path(f.filename).suffix});;All files (*)")
        if name:
            self.locate(f, Path(name))

    def locate(self, file: ModelFile, path: Path) -> object:
        self._cancel.clear()
        return self._tasks.spawn(self._locate(file, path))

    async def _locate(self, file: ModelFile, path: Path) -> None:
        self._set_busy(True, f"Checking {path.name}\u2026")
        message = ""
        try:
            result = await self._tasks.run_long(install_local_file, self.models_dir, file, path)
            message = f"{path.name} checked and copied to {result.path}"
            if not result.confirmed:
                message += " (no confirmed hash exists for this file, so it was taken as it is)"
            self.models_changed.emit()
        except DLCError as exc:
            message = f"Not used: {exc}"
        finally:
            self._set_busy(False, message)
        await self._show_checked([file])

    async def _show_checked(self, files: Sequence[ModelFile]) -> None:
        """The files' statuses after a download or a copy, hashes checked (off the UI thread)."""
        try:
            found = await self._tasks.run_long(self._full_check, files, cancel=self._cancel.set)
        except HashCancelled:
            found = verify(self.models_dir, files, full=False)
        self._show_statuses(found)

    # -- int8 swapper -------------------------------------------------------------------------------------
    async def _show_int8_status(self, report: Int8Report | None = None) -> None:
        """The int8 swapper's state in words (off the UI thread: after a model file changed it is hashed once)."""
        status = await self._tasks.run(int8_status, self.models_dir)
        self.int8_state = status.state
        text = report.summary() if report is not None else f"Int8 swapper for CPUs: {status.message}."
        if status.fix in ("build", "calibrate"):
            text += (" Optimize for CPU\u2026 builds it." if status.fix == "build" else
                     " Optimize for CPU\u2026 with a source face chosen calibrates it on your photo too.")
        colour = {"ready": "#3fb950", "rejected": "#e3b341"}.get(status.state, "#8b949e")
        self.int8_label.setText(text)
        self.int8_label.setStyleSheet(f"color: {colour}")
        self._update_buttons()

    def start_optimize(self) -> object:
        """Build the int8 swapper as a long job (progress, Cancel); the quality report shows when it is done."""
        if self.busy:
            return None
        self._cancel.clear()
        photos = list(self._source_photos()) if self._source_photos is not None else []
        self._set_busy(True, "Optimizing for CPU\u2026")  # now, not when the task starts: a second click is refused
        return self._tasks.spawn(self._optimize(photos))

    def _optimize_progress(self) -> Progress:
        def progress(stage: str, done: int, total: int) -> bool:
            self.optimize_signal.emit(stage, done, total)  # worker thread -> UI thread (queued)
            return not self._cancel.is_set()

        return progress

    def _show_optimize_progress(self, stage: str, done: int, total: int) -> None:
        if not self.busy:
            return
        self.progress.setRange(0, max(1, total))
        self.progress.setValue(min(done, total))
        count = f"{human_size(done)} of {human_size(total)}" if stage.startswith("reading") else f"{done} of {total}"
        self.progress_label.setText(f"Optimizing for CPU: {stage} ({count})")

    async def _optimize(self, photos: list[Path]) -> None:
        from app.core.int8_build import build_int8_swapper

        message, report = "", None
        try:
            progress = self._optimize_progress()
            report = await self._tasks.run_long(
                lambda: build_int8_swapper(self.models_dir, photos, progress=progress), cancel=self._cancel.set)
            state = "enabled" if report.enabled else "built, but NOT enabled (below the quality bound)"
            message = f"Int8 swapper {state} in {report.seconds:.0f} s."
            self.models_changed.emit()
        except Cancelled:
            message = "Optimizing cancelled; nothing was kept."
        except DLCError as exc:
            message = f"Optimizing failed: {exc}"
        finally:
            self._set_busy(False, message)
        await self._show_int8_status(report)

    def open_folder(self) -> None:
        self.models_dir.mkdir(parents=True, exist_ok=True)
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.models_dir)))
