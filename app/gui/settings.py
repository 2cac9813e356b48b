"""What the window remembers between runs (QSettings): source photo, camera, options, geometry."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from PySide6.QtCore import QByteArray, QSettings

from app.core.options import RestoreOptions, SwapOptions
from app.errors import OptionError

log = logging.getLogger(__name__)

ORGANIZATION = "deep-live-cam"
APPLICATION = "Deep Live Cam"


@dataclass(frozen=True)
class CameraChoice:
    """The camera the user picked and how it should deliver."""

    spec: str = "0"  # a camera index, a video file path or a stream URL (app.live.capture.parse_camera_spec)
    width: int = 1280
    height: int = 720
    fps: int = 30
    mirror: bool = True


def _bool(value: object, default: bool) -> bool:
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    return str(value).lower() in ("1", "true", "yes", "on")


def _float(value: object, default: float) -> float:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return default


def _int(value: object, default: int) -> int:
    try:
        return int(value)  # type: ignore[call-overload,no-any-return]
    except (TypeError, ValueError):
        return default


class SettingsStore:
    """Typed reading and writing over one QSettings; unreadable values fall back to defaults."""

    def __init__(self, settings: QSettings | None = None) -> None:
        self.qsettings = settings or QSettings(ORGANIZATION, APPLICATION)

    def _get(self, key: str) -> object:
        return self.qsettings.value(key)

    # -- options ------------------------------------------------------------------------------------------
    def options(self) -> SwapOptions:
        d = SwapOptions()
        try:
            restore = None
            if _bool(self._get("options/restore"), False):
                restore = RestoreOptions(strength=_float(self._get("options/restore_strength"), 0.5))
            faces = str(self._get("options/faces") or d.faces)
            return SwapOptions(
                faces=faces if faces in ("all", "largest") else d.faces,  # type: ignore[arg-type]
                blend=_float(self._get("options/blend"), d.blend),
                color_correction=_bool(self._get("options/color_correction"), d.color_correction),
                face_scale=_float(self._get("options/face_scale"), d.face_scale),
                restore=restore,
            )
        except OptionError as exc:
            log.warning("stored options ignored: %s", exc)
            return d

    def restore_strength(self) -> float:
        return min(1.0, max(0.0, _float(self._get("options/restore_strength"), 0.5)))

    def save_options(self, options: SwapOptions, restore_strength: float) -> None:
        s = self.qsettings
        s.setValue("options/faces", options.faces)
        s.setValue("options/blend", options.blend)
        s.setValue("options/color_correction", options.color_correction)
        s.setValue("options/face_scale", options.face_scale)
        s.setValue("options/restore", options.restore is not None)
        s.setValue("options/restore_strength", restore_strength)

    # -- camera -------------------------------------------------------------------------------------------
    def camera(self) -> CameraChoice:
        d = CameraChoice()
        return CameraChoice(
            spec=str(self._get("camera/spec") or d.spec),
            width=_int(self._get("camera/width"), d.width),
            height=_int(self._get("camera/height"), d.height),
            fps=_int(self._get("camera/fps"), d.fps),
            mirror=_bool(self._get("camera/mirror"), d.mirror),
        )

    def save_camera(self, choice: CameraChoice) -> None:
        s = self.qsettings
        s.setValue("camera/spec", choice.spec)
        s.setValue("camera/width", choice.width)
        s.setValue("camera/height", choice.height)
        s.setValue("camera/fps", choice.fps)
        s.setValue("camera/mirror", choice.mirror)

    # -- files and folders --------------------------------------------------------------------------------
    def text(self, key: str) -> str:
        value = self._get(key)
        return str(value) if value else ""

    def set_text(self, key: str, value: str) -> None:
        self.qsettings.setValue(key, value)

    def source_path(self) -> str:
        return self.text("source/path")

    def set_source_path(self, path: str) -> None:
        self.set_text("source/path", path)

    # -- window -------------------------------------------------------------------------------------------
    def geometry(self) -> QByteArray | None:
        value = self._get("window/geometry")
        return value if isinstance(value, QByteArray) and not value.isEmpty() else None

    def save_geometry(self, geometry: QByteArray) -> None:
        self.qsettings.setValue("window/geometry", geometry)

    def sync(self) -> None:
        self.qsettings.sync()
