"""The Photos tab's progress line: a count of files done for a batch, frames done and the time left for a
video, with the Cancel button that stops the video."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QProgressBar, QPushButton, QWidget

from app.gui.video_jobs import format_eta
from app.media import Progress


class JobProgress(QWidget):
    cancel_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.bar = QProgressBar()
        self.bar.setTextVisible(True)
        self.bar.setFormat("%v of %m")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop the video being swapped; nothing is written for it")
        self.cancel_button.clicked.connect(self._cancel_clicked)
        self.cancel_button.hide()
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.bar, 1)
        layout.addWidget(self.cancel_button)
        self.hide()

    def show_batch(self, finished: int, total: int) -> None:
        self.bar.setRange(0, max(1, total))
        self.bar.setValue(finished)
        self.bar.setFormat("%v of %m")
        self.show()

    def start_video(self) -> None:
        self.bar.setRange(0, 0)  # busy until the first frame is done
        self.bar.setFormat("starting\u2026")
        self.cancel_button.setText("Cancel")
        self.cancel_button.setEnabled(True)
        self.cancel_button.show()
        self.show()

    def show_video(self, p: Progress) -> str:
        """Frames done of all, and the time left; returns the time-left text shown."""
        eta = format_eta(p.eta_s)
        if p.total:
            self.bar.setRange(0, p.total)
            self.bar.setValue(min(p.done, p.total))
            self.bar.setFormat(f"%p% \u2014 frame %v of %m \u2014 {eta}")
        else:
            self.bar.setRange(0, 0)
            self.bar.setFormat(f"frame {p.done}")
        return eta

    def end_video(self) -> None:
        self.cancel_button.hide()

    def _cancel_clicked(self) -> None:
        self.cancel_button.setEnabled(False)
        self.cancel_button.setText("Cancelling\u2026")
        self.cancel_requested.emit()

    def finish(self) -> None:
        self.cancel_button.hide()
        self.hide()
