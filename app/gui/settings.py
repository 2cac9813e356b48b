"""What the window remembers between runs (QSettings): source photos, camera, options, geometry."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QByteArray, QSettings

from app.core.options import ENGINE_FORM, LIVE_FORM, EngineOptions, Form, SwapOptions
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


def _strings(value: object) -> list[str]:
    """A stored list of strings: an INI file gives a one-item list back as a plain string, an empty one as None."""
    if value is None or value == "":
        return []
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value if v]
    return [str(value)]


def _read(kind: str, raw: object, default: Any) -> Any:
    """A stored value (QSettings gives strings from an INI file) as the field's kind."""
    if kind == "bool":
        return _bool(raw, default)
    if kind == "float":
        return _float(raw, default)
    if kind == "int":
        return _int(raw, default)
    return str(raw) if raw is not None else default


class SettingsStore:
    """Typed reading and writing over one QSettings; unreadable values fall back to defaults."""

    def __init__(self, settings: QSettings | None = None) -> None:
        self.qsettings = settings or QSettings(ORGANIZATION, APPLICATION)

    def _get(self, key: str) -> object:
        return self.qsettings.value(key)

    # -- options ------------------------------------------------------------------------------------------
    def option_values(self, form: Form[Any] = LIVE_FORM) -> dict[str, Any]:
        """The stored value of every field of `form` (its key is the field's settings key); a missing or
        unreadable one is the field's default. The desktop app's form is the live one (the swap options and
        how live renders)."""
        values: dict[str, Any] = {}
        for f in form:
            raw = self._get(f.settings_key)
            value = _read(f.kind, raw, f.default)
            try:
                f.check(value)
            except OptionError as exc:
                log.warning("stored option ignored: %s", exc)
                value = f.default
            values[f.key] = value
        return values

    def options(self) -> SwapOptions:
        return LIVE_FORM.build(self.option_values(LIVE_FORM))

    def engine_options(self) -> EngineOptions:
        return ENGINE_FORM.build(self.option_values(ENGINE_FORM))

    def save_option_values(self, values: dict[str, Any], form: Form[Any] = LIVE_FORM) -> None:
        for f in form:
            if f.key in values:
                self.qsettings.setValue(f.settings_key, values[f.key])

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

    def source_photos(self) -> list[str]:
        """The source photos in use when the window closed (one, or several of one person)."""
        return _strings(self._get("source/photos")) or ([self.source_path()] if self.source_path() else [])

    def source_left_out(self) -> list[str]:
        """Those of them the user left out of the identity."""
        return _strings(self._get("source/left_out"))

    def set_source_photos(self, paths: list[str], left_out: list[str]) -> None:
        self.qsettings.setValue("source/photos", list(paths))
        self.qsettings.setValue("source/left_out", list(left_out))
        self.set_source_path(paths[0] if paths else "")  # what versions before several photos read

    # -- window -------------------------------------------------------------------------------------------
    def geometry(self) -> QByteArray | None:
        value = self._get("window/geometry")
        return value if isinstance(value, QByteArray) and not value.isEmpty() else None

    def save_geometry(self, geometry: QByteArray) -> None:
        self.qsettings.setValue("window/geometry", geometry)

    def sync(self) -> None:
        self.qsettings.sync()
