"""The live controls: camera, resolution and fps, mirror, Start/Stop, swap and restore options, outputs.

The panel only turns widgets into typed values: every change of a swap option emits one new SwapOptions.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.core.options import ENGINE_FORM, LIVE_FORM, EngineOptions, SwapOptions
from app.gui.option_controls import OptionControls
from app.gui.settings import CameraChoice
from app.live.cameras import CameraEntry

RESOLUTIONS = ((640, 360), (640, 480), (1280, 720), (1920, 1080))
FRAME_RATES = (15, 24, 30, 60)
VIDEO_FILE = "__video_file__"


class ControlsPanel(QWidget):
    options_changed = Signal(object)  # SwapOptions
    engine_options_changed = Signal(object)  # EngineOptions
    camera_changed = Signal(object)  # CameraChoice (camera, resolution or fps)
    mirror_changed = Signal(bool)
    video_file_requested = Signal()
    live_toggled = Signal()
    virtual_camera_toggled = Signal(bool)
    record_toggled = Signal(bool)
    record_path_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("controls")
        self._building = True
        self._last_spec = "0"
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(10)

        # -- camera
        cam_box = QGroupBox("Camera")
        form = QFormLayout(cam_box)
        self.camera = QComboBox()
        self.camera.setMinimumContentsLength(14)
        self.camera.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.resolution = QComboBox()
        for w, h in RESOLUTIONS:
            self.resolution.addItem(f"{w} \u00d7 {h}", f"{w}x{h}")
        self.fps = QComboBox()
        for f in FRAME_RATES:
            self.fps.addItem(f"{f} fps", f)
        self.mirror = QCheckBox("Mirror")
        res_row = QHBoxLayout()
        res_row.addWidget(self.resolution, 2)
        res_row.addWidget(self.fps, 1)
        form.addRow("Source", self.camera)
        form.addRow("Size", res_row)
        form.addRow("", self.mirror)
        self.start_button = QPushButton("Start live")
        self.start_button.setObjectName("startButton")
        self.start_button.setToolTip("Start or stop the live swap (Space)")
        form.addRow(self.start_button)
        layout.addWidget(cam_box)

        # -- swap, outputs, restore and detection (the options: one widget per field of the options schema)
        self.option_controls = OptionControls(LIVE_FORM)  # the desktop app is live: its form has the live fields
        self._add_options_group(layout, "swap", "Swap")
        # -- outputs
        out_box = QGroupBox("Output")
        form = QFormLayout(out_box)
        self.virtual_camera = QCheckBox("Virtual camera")
        self.virtual_camera_state = QLabel("off")
        self.virtual_camera_state.setObjectName("vcamState")
        self.virtual_camera_state.setWordWrap(True)
        self.record = QCheckBox("Record to file")
        self.record_path = QPushButton("Choose file\u2026")
        self.record_path.setObjectName("linkButton")
        form.addRow(self.virtual_camera)
        form.addRow(self.virtual_camera_state)
        form.addRow(self.record, self.record_path)
        layout.addWidget(out_box)
        self._add_options_group(layout, "mask", "Mask")
        self._add_options_group(layout, "restore", "Restore (GFPGAN)")
        self._add_options_group(layout, "detection", "Detection")
        self._add_options_group(layout, "live", "Rendering")  # fluid or exact: how live keeps up with the camera
        # -- how the models run: a new engine (the models load again), so it applies when live starts
        self.engine_controls = OptionControls(ENGINE_FORM)
        box = QGroupBox("Performance")
        self.engine_controls.add_rows(QFormLayout(box), "engine")
        layout.addWidget(box)
        self.faces = self.option_controls.combo_box("faces")
        self.blend = self.option_controls.slider("blend")
        self.restore = self.option_controls.check_box("restore")
        self.restore_strength = self.option_controls.slider("restore_strength")
        layout.addStretch(1)

        self.camera.activated.connect(self._camera_activated)
        self.resolution.currentIndexChanged.connect(self._camera_settings_changed)
        self.fps.currentIndexChanged.connect(self._camera_settings_changed)
        self.mirror.toggled.connect(self.mirror_changed)
        self.start_button.clicked.connect(self.live_toggled)
        self.option_controls.changed.connect(self._emit_options)
        self.engine_controls.changed.connect(self.engine_options_changed)
        self.virtual_camera.toggled.connect(self.virtual_camera_toggled)
        self.record.toggled.connect(self.record_toggled)
        self.record_path.clicked.connect(self.record_path_requested)
        self._building = False

    def _add_options_group(self, layout: QVBoxLayout, group: str, title: str) -> None:
        box = QGroupBox(title)
        self.option_controls.add_rows(QFormLayout(box), group)
        layout.addWidget(box)

    # -- cameras ------------------------------------------------------------------------------------------
    def set_cameras(self, cameras: Sequence[CameraEntry], current: str | None = None) -> None:
        current = current if current is not None else self._last_spec
        self.camera.blockSignals(True)
        self.camera.clear()
        for cam in cameras:
            self.camera.addItem(cam.label, str(cam.index))
        if not cameras:
            self.camera.addItem("No camera found", "")
            item = self.camera.model().item(0)  # type: ignore[attr-defined]
            item.setEnabled(False)
        if current and not current.isdigit():
            self.camera.addItem(Path(current).name or current, current)
        elif current and all(str(c.index) != current for c in cameras):
            self.camera.addItem(f"Camera {current} (not found)", current)
        self.camera.addItem("Video file\u2026", VIDEO_FILE)
        index = self.camera.findData(current)
        if index < 0:
            index = 0 if cameras else max(0, self.camera.count() - 2)
        self.camera.setCurrentIndex(index)
        self._last_spec = str(self.camera.currentData() or "")
        self.camera.blockSignals(False)

    def use_camera(self, spec: str) -> None:
        """Select a camera index, a video file or a stream URL (the command line's --camera)."""
        spec = spec.strip()
        if not spec.isdigit():
            self.set_video_file(spec)
            return
        cameras = [CameraEntry(int(self.camera.itemData(i)), self.camera.itemText(i))
                   for i in range(self.camera.count()) if str(self.camera.itemData(i) or "").isdigit()]
        self.set_cameras(cameras, spec)
        self.camera_changed.emit(self.camera_choice())

    def set_video_file(self, path: str) -> None:
        """Adds (or selects) a video file as the camera and says so."""
        index = self.camera.findData(path)
        if index < 0:
            index = self.camera.count() - 1  # before "Video file..."
            self.camera.insertItem(index, Path(path).name, path)
        self.camera.setCurrentIndex(index)
        self._last_spec = path
        self.camera_changed.emit(self.camera_choice())

    def _camera_activated(self, index: int) -> None:
        data = self.camera.itemData(index)
        if data == VIDEO_FILE:
            # Stay on the previous source until a file is chosen.
            back = self.camera.findData(self._last_spec)
            self.camera.setCurrentIndex(max(0, back))
            self.video_file_requested.emit()
            return
        self._last_spec = str(data or "")
        self.camera_changed.emit(self.camera_choice())

    def _camera_settings_changed(self) -> None:
        if not self._building:
            self.camera_changed.emit(self.camera_choice())

    def camera_choice(self) -> CameraChoice:
        w, h = str(self.resolution.currentData() or "1280x720").split("x")
        return CameraChoice(self._last_spec, int(w), int(h), int(self.fps.currentData() or 30), self.mirror.isChecked())

    def set_camera_choice(self, choice: CameraChoice) -> None:
        self._building = True
        try:
            i = self.resolution.findData(f"{choice.width}x{choice.height}")
            self.resolution.setCurrentIndex(i if i >= 0 else 2)
            i = self.fps.findData(choice.fps)
            self.fps.setCurrentIndex(i if i >= 0 else 2)
            self.mirror.setChecked(choice.mirror)
            self._last_spec = choice.spec
        finally:
            self._building = False

    # -- options ------------------------------------------------------------------------------------------
    def options(self) -> SwapOptions:
        options: SwapOptions = self.option_controls.options()
        return options

    def engine_options(self) -> EngineOptions:
        options: EngineOptions = self.engine_controls.options()
        return options

    def option_values(self) -> dict[str, Any]:
        """Every field's value, the restore ones too while restoration is off (the settings keep them)."""
        return self.option_controls.values()

    def show_options(self, values: dict[str, Any]) -> None:
        """Show stored values; emits options_changed once."""
        self.option_controls.set_values(values)

    def set_restore_preparing(self, preparing: bool) -> None:
        """Say on the checkbox that restoration waits for its model."""
        self.restore.setText("On (preparing\u2026)" if preparing else "On")

    def _emit_options(self, options: SwapOptions) -> None:
        self.options_changed.emit(options)

    # -- live state ---------------------------------------------------------------------------------------
    def set_live(self, state: str) -> None:
        """state: 'idle', 'starting', 'live' or 'stopping'."""
        text = {"idle": "Start live", "starting": "Starting\u2026", "live": "Stop live", "stopping": "Stopping\u2026"}
        self.start_button.setText(text.get(state, "Start live"))
        self.start_button.setProperty("live", state == "live")
        self.start_button.setEnabled(state in ("idle", "live"))
        self.start_button.style().unpolish(self.start_button)
        self.start_button.style().polish(self.start_button)

    def set_virtual_camera_state(self, state: str, detail: str) -> None:
        text = {"on": f"on \u2014 {detail}" if detail else "on", "off": "off",
                "armed": "starts with live", "unavailable": detail or "unavailable"}.get(state, detail)
        self.virtual_camera_state.setText(text)
        self.virtual_camera_state.setProperty("level", "warning" if state == "unavailable" else state)
        self.virtual_camera_state.style().unpolish(self.virtual_camera_state)
        self.virtual_camera_state.style().polish(self.virtual_camera_state)
        if state == "unavailable" and self.virtual_camera.isChecked():
            self.virtual_camera.blockSignals(True)
            self.virtual_camera.setChecked(False)
            self.virtual_camera.blockSignals(False)

    def set_record_path(self, path: str) -> None:
        self.record_path.setText(Path(path).name if path else "Choose file\u2026")
        self.record_path.setToolTip(path)
