"""The main window: Live and Photos tabs, an inline message banner, the model dialog, remembered settings.
The source identity (one photo or several) and the people mapped to a source of their own are shared by both
tabs: one source controller and one face-map controller own them."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSettings, Qt, QTimer
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import QFileDialog, QMainWindow, QTabWidget, QVBoxLayout, QWidget

from app.core.options import ENGINE_FORM, EngineOptions, SwapOptions
from app.core.ort_runtime import onnxruntime_problem
from app.errors import DLCError
from app.gui.banner import Banner
from app.gui.face_map_controller import FaceMapController
from app.gui.live_controller import LiveController
from app.gui.live_tab import LiveTab
from app.gui.messages import user_text
from app.gui.models_dialog import ModelsDialog
from app.gui.people_view import PHOTOS_HINT, MappedPeopleView
from app.gui.person_picker import PHOTO_FILTER, PersonPicker, ask_person_photos
from app.gui.photos_tab import PhotosTab
from app.gui.restore_gate import RestoreGate
from app.gui.settings import SettingsStore
from app.gui.source_controller import SourceController
from app.gui.tasks import EngineHolder, TaskRunner
from app.gui.video_jobs import COMMON_VIDEO_SUFFIXES
from app.live.cameras import CameraEntry, list_cameras
from app.models.manifest import MODEL_FILES, ModelFile
from app.models.status import Status, problems, verify

log = logging.getLogger(__name__)
VIDEO_FILTER = f"Videos ({' '.join(f'*{s}' for s in COMMON_VIDEO_SUFFIXES)});;All files (*)"


class MainWindow(QMainWindow):
    def __init__(self, models_dir: Path, providers: Sequence[str] | None = None,
                 settings: QSettings | None = None, model_files: Sequence[ModelFile] = MODEL_FILES,
                 virtual_camera_backend: str | None = None, check_models: bool = True,
                 list_cameras_on_start: bool = True) -> None:
        super().__init__()
        self.setObjectName("mainWindow")
        self.setWindowTitle("Deep Live Cam")
        self.resize(1440, 880)
        self.models_dir = Path(models_dir)
        self.model_files = list(model_files)
        self.store = SettingsStore(settings)
        self.tasks = TaskRunner(self._report_exception)
        self.engines = EngineHolder(self.models_dir, providers, self.store.engine_options())
        self.models_dialog: ModelsDialog | None = None
        self._closing = False

        self.banner = Banner()
        self.live_tab = LiveTab()
        self.source_panel = self.live_tab.source_panel
        self.preview = self.live_tab.preview
        self.stats = self.live_tab.stats
        self.controls = self.live_tab.controls
        self.source = SourceController(self.tasks, self.engines, self.source_panel, self.options)
        self.face_map = FaceMapController(self.tasks, self.engines, self.options)
        self.live = LiveController(self.tasks, lambda: self.engines.engine,
                                   virtual_camera_backend=virtual_camera_backend, prepare=self.preview.prepare)
        self.live.set_source(self.face_map.live_cast)
        self.restore_gate = RestoreGate(self.tasks, lambda: self.engines.engine)
        self.photos = PhotosTab(self.tasks, self.engines, lambda: self.face_map.cast, self.options,
                                usable_options=self.restore_gate.wait)
        self.photos_people = MappedPeopleView(PHOTOS_HINT, "Map a person\u2026")
        self.photos.side.addWidget(self.photos_people)
        self.picker = PersonPicker(self, self.live, self.face_map, self.source.choices, self.show_message)
        self.tabs = QTabWidget()
        self.tabs.setObjectName("mainTabs")
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(self.live_tab, "Live")
        self.tabs.addTab(self.photos, "Photos")
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.banner)
        layout.addWidget(self.tabs, 1)
        self.setCentralWidget(central)
        self._build_menu()
        self._wire()
        self._restore_settings()
        if list_cameras_on_start:
            self.tasks.spawn(self._list_cameras())
        if check_models:
            QTimer.singleShot(0, self._check_models_on_start)

    # -- construction -------------------------------------------------------------------------------------
    def _build_menu(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        self._action(file_menu, "Open source photo\u2026", self._ask_source, QKeySequence.StandardKey.Open)
        self._action(file_menu, "Add photos or videos\u2026", self._add_photos_dialog)
        self.save_all_action = self._action(file_menu, "Save all results\u2026",
                                            lambda: self.photos.ask_and_save(False), QKeySequence.StandardKey.Save)
        file_menu.addSeparator()
        self._action(file_menu, "Quit", self.close, QKeySequence.StandardKey.Quit)
        tools = bar.addMenu("&Tools")
        self._action(tools, "Models\u2026", lambda: self.open_models_dialog(False))
        self.start_shortcut = QShortcut(QKeySequence(Qt.Key.Key_Space), self)
        self.start_shortcut.setContext(Qt.ShortcutContext.WindowShortcut)
        self.start_shortcut.activated.connect(self.toggle_live)

    def _action(self, menu: Any, text: str, slot: Any, shortcut: Any = None) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.triggered.connect(slot)
        menu.addAction(action)
        return action

    def _wire(self) -> None:
        c, live = self.controls, self.live
        c.options_changed.connect(self._options_changed)
        c.engine_options_changed.connect(self._engine_options_changed)
        c.camera_changed.connect(self._camera_changed)
        c.mirror_changed.connect(self._mirror_changed)
        c.video_file_requested.connect(self._ask_video_file)
        c.live_toggled.connect(self.toggle_live)
        c.virtual_camera_toggled.connect(live.set_virtual_camera)
        c.record_toggled.connect(self._record_toggled)
        c.record_path_requested.connect(self._ask_record_path)
        self.source_panel.open_requested.connect(self._ask_source)
        self.source_panel.add_requested.connect(lambda: self._ask_source(add=True))
        self.source.source_changed.connect(self.face_map.set_default)
        self.source.photos_changed.connect(self.store.set_source_photos)
        self.source.message.connect(self.show_message)
        fm = self.face_map
        fm.cast_changed.connect(self._cast_changed)
        fm.message.connect(self.show_message)
        for view in (self.live_tab.people, self.photos_people):
            fm.people_changed.connect(view.show_people)
            view.remove_requested.connect(fm.remove)
        self.photos_people.map_requested.connect(self._ask_person_photos)
        self.preview.frame_clicked.connect(self.picker.clicked)
        live.state_changed.connect(self._live_state)
        live.frame_shown.connect(self.preview.set_prepared)
        live.stats_updated.connect(self.stats.show_stats)
        live.message.connect(self.show_message)
        live.sink_state.connect(self._sink_state)
        self.photos.message.connect(self.show_message)
        self.restore_gate.message.connect(self.show_message)
        self.restore_gate.ready.connect(self._restorer_ready)
        self.restore_gate.failed.connect(self._restorer_failed)

    def _restore_settings(self) -> None:
        geometry = self.store.geometry()
        if geometry is not None:
            self.restoreGeometry(geometry)
        camera = self.store.camera()
        self.controls.set_camera_choice(camera)
        self.controls.set_cameras([], camera.spec)
        # Restore saved as on: the restorer is loaded (and checked) first, as when the user ticks it.
        self.controls.show_options(self.store.option_values())
        self.controls.engine_controls.set_values(self.store.option_values(ENGINE_FORM))
        self.live.set_options(self.restore_gate.usable(self.controls.options()))
        self.live.record_path = self.store.text("record/path")
        self.controls.set_record_path(self.live.record_path)
        self.photos.folder = self.store.text("photos/folder")
        photos = [p for p in self.store.source_photos() if Path(p).is_file()]
        if photos:
            self.source.load_photos(photos, self.store.source_left_out())

    async def _list_cameras(self) -> None:
        cameras: list[CameraEntry] = await self.tasks.run(list_cameras)
        self.controls.set_cameras(cameras)

    # -- messages -----------------------------------------------------------------------------------------
    def show_message(self, text: str, level: str = "info") -> None:
        """Every error and notice goes here: the banner (inline, non-blocking) and the status bar."""
        if self._closing:
            return
        # A notice never hides a warning or an error the user has not dismissed yet.
        if not (level == "info" and self.banner.isVisible() and self.banner.level in ("warning", "error")):
            self.banner.show_message(text, level)
        self.statusBar().showMessage(text.splitlines()[0] if text else "", 8000)
        log.log(logging.ERROR if level == "error" else logging.INFO, "%s", text)

    def _report_exception(self, exc: BaseException) -> None:
        if isinstance(exc, DLCError):
            self.show_message(user_text(exc), "error")
        else:
            log.error("unexpected error in a background task", exc_info=exc)
            self.show_message(f"Something went wrong: {type(exc).__name__}: {exc}", "error")

    # -- live ---------------------------------------------------------------------------------------------
    def options(self) -> SwapOptions:
        """The user's choices (restoration included even while its model is still loading)."""
        return self.controls.options()

    def toggle_live(self) -> None:
        self.live.toggle(self.controls.camera_choice())

    def start_live(self) -> None:
        self.live.start(self.controls.camera_choice())

    def _options_changed(self, options: SwapOptions) -> None:
        self.store.save_option_values(self.controls.option_values())
        if options.restore is not None:
            self.restore_gate.prepare()
        self.controls.set_restore_preparing(options.restore is not None and self.restore_gate.preparing)
        self.live.set_options(self.restore_gate.usable(options))  # restoration only once its model is loaded

    def _engine_options_changed(self, options: EngineOptions) -> None:
        """A new backend or precision: the models load again with it; a running live session keeps its engine."""
        if options == self.engines.options:
            return
        self.store.save_option_values(self.controls.engine_controls.values(), ENGINE_FORM)
        self.engines.use(options)
        if self.live.live:
            self.show_message("The new backend and precision apply when live starts again.", "info")

    def _restorer_ready(self) -> None:
        self.controls.set_restore_preparing(False)
        self.live.set_options(self.restore_gate.usable(self.options()))

    def _restorer_failed(self, text: str) -> None:
        self.controls.set_restore_preparing(False)
        self.controls.restore.setChecked(False)  # saved as off, too
        self.show_message(text, "warning")

    def _camera_changed(self, choice: Any) -> None:
        self.store.save_camera(choice)
        if self.live.live:  # another camera or size: restart the capture with it
            self.live.state_changed.connect(self._restart_when_idle)
            self.live.stop()

    def _restart_when_idle(self, state: str) -> None:
        if state == "idle":
            self.live.state_changed.disconnect(self._restart_when_idle)
            self.start_live()

    def _mirror_changed(self, mirror: bool) -> None:
        self.live.set_mirror(mirror)
        self.store.save_camera(self.controls.camera_choice())

    def _cast_changed(self, cast: Any) -> None:
        """A new source, or a new map of people: live takes it from its next frame, waiting photos start."""
        self.live.set_source(self.face_map.live_cast)
        if cast is not None:
            self.photos.resume()

    def _live_state(self, state: str) -> None:
        self.controls.set_live(state)
        live = state == "live"  # a face in the picture can be clicked to give that person their own source
        self.preview.setCursor(Qt.CursorShape.PointingHandCursor if live else Qt.CursorShape.ArrowCursor)
        self.preview.setToolTip("Click a face to give that person a source of their own" if live else "")
        if state == "starting":
            self.stats.clear()
        if state == "idle":
            self.preview.clear("Stopped. Press Start (Space) to go live again")
        if self.live.virtual_camera_wanted and state == "idle":
            self.controls.set_virtual_camera_state("armed", "")

    def _sink_state(self, name: str, state: str, detail: str) -> None:
        if name == "virtual camera":
            self.controls.set_virtual_camera_state(state, detail)
            if state == "unavailable":
                self.show_message(detail, "warning")
        elif state == "unavailable":
            self.controls.record.setChecked(False)
            self.show_message(detail, "error")
        elif state == "on":
            self.statusBar().showMessage(f"Recording to {detail}", 5000)

    def _record_toggled(self, on: bool) -> None:
        if on and not self.live.record_path:
            self._ask_record_path()
            if not self.live.record_path:
                self.controls.record.setChecked(False)
                return
        self.live.set_recording(on)

    # -- dialogs ------------------------------------------------------------------------------------------
    def _ask_source(self, add: bool = False) -> None:
        start = str(Path(self.source.path).parent) if self.source.path else ""
        title = "Add photos of the same person" if add else "Open a face photo (or several of one person)"
        names, _ = QFileDialog.getOpenFileNames(self, title, start, PHOTO_FILTER)
        if names:
            (self.source.add_photos if add else self.source.load_photos)(names)

    def _ask_person_photos(self) -> None:
        chosen = ask_person_photos(self, self.photos.folder)
        if chosen is not None:
            self.face_map.map_from_photos(*chosen)

    def _ask_video_file(self) -> None:
        name, _ = QFileDialog.getOpenFileName(self, "Use a video file as the camera", "", VIDEO_FILTER)
        if name:
            self.controls.set_video_file(name)

    def _ask_record_path(self) -> None:
        name, _ = QFileDialog.getSaveFileName(self, "Record to", self.live.record_path or "recording.mp4",
                                              "MP4 video (*.mp4)")
        if name:
            self.set_record_path(name)

    def set_record_path(self, path: str) -> None:
        self.live.record_path = path
        self.controls.set_record_path(path)
        self.store.set_text("record/path", path)

    def _add_photos_dialog(self) -> None:
        self.tabs.setCurrentWidget(self.photos)
        self.photos.add_button.click()

    def open_models_dialog(self, first_start: bool = False) -> ModelsDialog:
        if self.models_dialog is None:
            self.models_dialog = ModelsDialog(self.models_dir, self.tasks, self.model_files, first_start, parent=self,
                                              source_photos=self._source_photo_paths)
            self.models_dialog.models_changed.connect(self._models_changed)
        else:
            self.models_dialog.refresh(full=False)
        self.models_dialog.show()
        self.models_dialog.raise_()
        return self.models_dialog

    def _check_models_on_start(self) -> None:
        bad = problems(verify(self.models_dir, self.model_files, full=False))  # sizes only: no file is read
        if bad:
            self.open_models_dialog(first_start=True)
            names = ", ".join(s.file.relpath + (" (damaged)" if s.status is Status.CORRUPT else "") for s in bad)
            self.show_message(f"Model files are missing: {names}. Download them in the Models dialog.", "warning")
        missing_runtime = onnxruntime_problem()
        if missing_runtime is not None:  # nothing can run without it: this message is the one left showing
            self.show_message(missing_runtime, "error")

    def _source_photo_paths(self) -> list[Path]:
        """The source photos in use (those not left out): the int8 build calibrates on them too."""
        return [Path(p) for p in self.source.paths if p not in self.source.left_out]

    def _models_changed(self) -> None:
        if not self.live.live:
            self.engines.reset()
            if self.controls.restore.isChecked():
                self.restore_gate.prepare()
        if self.source.paths and self.source.source is None:
            self.source.reload()

    # -- closing ------------------------------------------------------------------------------------------
    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt naming
        self._closing = True
        self.store.save_geometry(self.saveGeometry())
        self.store.save_camera(self.controls.camera_choice())
        self.store.save_option_values(self.controls.option_values())
        self.store.set_text("photos/folder", self.photos.folder)
        self.store.sync()
        if self.models_dialog is not None:
            self.models_dialog.cancel()
            self.models_dialog.close()
        # A video in progress stops (nothing written) rather than running to its last frame.
        self.photos.shutdown()
        # Wait for the short calls already running (a live start among them), then stop the session they left;
        # long jobs that cannot be cancelled (a hash, a copy, the restorer's conversion) are not waited for.
        self.tasks.shutdown()
        self.live.stop_now()
        super().closeEvent(event)
