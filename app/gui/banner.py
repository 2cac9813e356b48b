"""An inline, non-blocking message strip: errors and notices appear here, never in a modal box."""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QToolButton, QWidget

LEVELS = ("info", "warning", "error")


class Banner(QFrame):
    """Shows one message at a time; info messages hide by themselves, warnings and errors stay until closed."""

    def __init__(self, parent: QWidget | None = None, info_timeout_ms: int = 6000) -> None:
        super().__init__(parent)
        self.setObjectName("banner")
        self._timeout = info_timeout_ms
        self._label = QLabel(self)
        self._label.setObjectName("bannerText")
        self._label.setWordWrap(True)
        self._label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        close = QToolButton(self)
        close.setObjectName("bannerClose")
        close.setText("\u2715")
        close.setToolTip("Dismiss")
        close.clicked.connect(self.dismiss)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(12, 6, 6, 6)
        layout.addWidget(self._label, 1)
        layout.addWidget(close, 0, Qt.AlignmentFlag.AlignTop)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.dismiss)
        self.level = ""
        self.hide()

    @property
    def text(self) -> str:
        return str(self._label.text())

    def show_message(self, text: str, level: str = "info") -> None:
        level = level if level in LEVELS else "info"
        self.level = level
        self._label.setText(text)
        self.setProperty("level", level)
        # A dynamic property only restyles after an unpolish/polish.
        self.style().unpolish(self)
        self.style().polish(self)
        self.show()
        if level == "info":
            self._timer.start(self._timeout)
        else:
            self._timer.stop()

    def dismiss(self) -> None:
        self._timer.stop()
        self.hide()
