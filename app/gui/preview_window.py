"""The `live` command's preview: a plain window with the swapped picture and its statistics.

The live session runs in its own threads; this window only shows the newest output frame (converted on the
output thread by the preview widget) and the statistics the session posts. It closes on q / Esc, on the window's
close button, at the end of a file source, after `duration`, or on Ctrl+C in the terminal.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QEventLoop, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QKeyEvent
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from app.core.types import Frame
from app.gui.app import application
from app.gui.preview import PreviewWidget
from app.live.events import Ended, Notice, Stats
from app.live.runtime import LiveSession


class _FrameBridge(QObject):
    """Carries prepared frames from the live output thread to the UI thread (queued signal)."""

    ready = Signal(object)


class PreviewWindow(QWidget):
    closing = Signal()

    def __init__(self, title: str) -> None:
        super().__init__()
        self.setWindowTitle(title)
        self.preview = PreviewWidget(self, placeholder="Waiting for the first frame\u2026")
        self.stats = QLabel("", self)
        self.stats.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 4)
        layout.addWidget(self.preview, 1)
        layout.addWidget(self.stats)
        self.closed = False
        self._bridge = _FrameBridge()
        self._bridge.ready.connect(self.preview.set_prepared, Qt.ConnectionType.QueuedConnection)
        self.resize(960, 580)

    def deliver(self, frame: Frame) -> None:
        """Called on the live output thread for each output frame."""
        if not self.closed:
            self._bridge.ready.emit(self.preview.prepare(frame))

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt naming
        if event.key() in (Qt.Key.Key_Q, Qt.Key.Key_Escape):
            self.close()
        else:
            super().keyPressEvent(event)

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt naming
        self.closed = True
        super().closeEvent(event)
        self.closing.emit()


def open_preview_window(title: str) -> PreviewWindow:
    """The window, with the QApplication it needs made first."""
    application()
    return PreviewWindow(title)


def run_preview(session: LiveSession, window: PreviewWindow, duration: float | None,
                on_notice: Callable[[Notice], None]) -> str:
    """Show `window` until the session ends, the window closes, `duration` passes or Ctrl+C; returns why. The
    session's statistics show under the picture; its notices go to `on_notice`."""
    application()
    reason = ["window closed"]
    started = time.monotonic()

    def tick() -> None:
        ended = False
        for event in session.events.drain():
            if isinstance(event, Stats):
                window.stats.setText(event.snapshot.format())
            elif isinstance(event, Notice):
                on_notice(event)
            elif isinstance(event, Ended):
                ended = True
        if ended:
            reason[0] = "source ended"
        elif duration is not None and time.monotonic() - started >= duration:
            reason[0] = "duration reached"
        elif not window.closed:
            return
        window.close()

    def interrupt(*_: Any) -> None:
        reason[0] = "interrupted"
        window.close()

    previous = signal.signal(signal.SIGINT, interrupt)
    timer = QTimer(window)
    timer.timeout.connect(tick)  # also gives Python a moment to run the Ctrl+C handler
    timer.start(200)
    loop = QEventLoop()
    window.closing.connect(loop.quit)
    window.show()
    try:
        if not window.closed:
            loop.exec()
    finally:
        timer.stop()
        signal.signal(signal.SIGINT, previous)
    return reason[0]
