"""Starting the GUI: QApplication, style, the qasync event loop, the window."""

from __future__ import annotations

import asyncio
import gc
import importlib.util
import logging
import os
import sys
from collections.abc import MutableMapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from app.core.options import ENGINE_FORM, EngineOptions
from app.gui.settings import APPLICATION, ORGANIZATION

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GuiLaunch:
    """What the command line asks of the window."""

    models_dir: Path
    providers: Sequence[str] | None = None
    engine: EngineOptions | None = None  # backend and precision asked on the command line (else the settings')
    camera: str | None = None  # camera index, video file or stream URL
    source: str | None = None  # a face photo
    live: bool = False  # start the live session at once
    exit_after_s: float | None = None  # close the window after this long (scripts, smoke tests)


def style_sheet() -> str:
    try:
        return resources.files("app.gui").joinpath("style.qss").read_text(encoding="utf-8")
    except (FileNotFoundError, OSError):
        log.warning("style.qss not found; using Qt's default look")
        return ""


# opencv-python's cv2/config-3.py points these at its own bundled Qt 5 plugins and fonts; PySide6 (Qt 6) would
# then try to load cv2's xcb platform plugin on a real X display and abort.
CV2_QT_VARIABLES = ("QT_QPA_PLATFORM_PLUGIN_PATH", "QT_QPA_FONTDIR")


def _cv2_folder() -> Path | None:
    module = sys.modules.get("cv2")
    file = getattr(module, "__file__", None)
    if file:
        return Path(file).resolve().parent
    spec = importlib.util.find_spec("cv2")
    if spec is not None and spec.origin:
        return Path(spec.origin).resolve().parent
    return None


def drop_cv2_qt_paths(env: MutableMapping[str, str] = os.environ) -> list[str]:
    """Remove the Qt paths that importing cv2 set (only those inside cv2's package folder); returns their
    names."""
    try:
        folder = _cv2_folder()
    except (ImportError, ValueError):
        folder = None
    if folder is None:
        return []
    dropped = []
    for name in CV2_QT_VARIABLES:
        value = env.get(name)
        if value and Path(value).resolve().is_relative_to(folder):
            del env[name]
            dropped.append(name)
    if dropped:
        log.debug("ignoring %s set by cv2 (its Qt 5 files)", ", ".join(dropped))
    return dropped


def application() -> QApplication:
    app = QApplication.instance()
    if not isinstance(app, QApplication):
        drop_cv2_qt_paths()  # read by the QApplication constructor, so now
        app = QApplication(sys.argv[:1])
    app.setOrganizationName(ORGANIZATION)
    app.setApplicationName(APPLICATION)
    app.setStyle("Fusion")
    app.setStyleSheet(style_sheet())
    return app


def configure_window(window: object, launch: GuiLaunch) -> None:
    """Apply the command line's camera, source and --live to a built window."""
    from app.gui.main_window import MainWindow

    assert isinstance(window, MainWindow)
    if launch.camera:
        window.controls.use_camera(launch.camera)
    if launch.source:
        window.source.load(launch.source)
    if launch.live:
        window.start_live()


def run_gui(launch: GuiLaunch) -> int:
    """Open the window and run the event loop until it closes; returns the exit code."""
    import qasync

    from app.gui.main_window import MainWindow

    app = application()
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    window = MainWindow(launch.models_dir, launch.providers)
    if launch.engine is not None:
        window.controls.engine_controls.set_values(ENGINE_FORM.values(launch.engine))
    window.show()
    configure_window(window, launch)
    if launch.exit_after_s is not None:
        QTimer.singleShot(int(launch.exit_after_s * 1000), window.close)
    closed = asyncio.Event()
    app.lastWindowClosed.connect(closed.set)
    with loop:
        loop.run_until_complete(closed.wait())
    # Delete the window while the interpreter is whole: PySide can crash collecting Qt objects at exit.
    window.deleteLater()
    app.processEvents()
    del window
    gc.collect()
    return 0
