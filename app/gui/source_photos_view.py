"""The source photos of one identity, one row each: the face, its quality (score, face size, sharpness, how
frontal, similarity to the others), what is wrong with it, and a button that leaves it out or uses it again.
A flagged photo (probably someone else, too small, blurred, turned away) stands out; a left-out one is dimmed.
Rows are made from what the source controller prepared off the UI thread (PhotoRow)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QPixmap, QResizeEvent
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QSizePolicy, QVBoxLayout, QWidget

from app.gui.qimage import FrameImage


@dataclass(frozen=True, eq=False)
class PhotoRow:
    """What the panel shows of one source photo (made off the UI thread)."""

    name: str
    thumb: FrameImage
    score: str  # "82 %", or "" without a face
    details: str  # face size, sharpness, frontal, similarity
    problems: str  # the flags in words; "" when there are none
    included: bool
    usable: bool  # it has a face: a photo without one cannot be used


def _restyle(widget: QWidget, **properties: Any) -> None:
    for key, value in properties.items():
        widget.setProperty(key, value)
    widget.style().unpolish(widget)
    widget.style().polish(widget)


class ElidedLabel(QLabel):
    """One line that ends in an ellipsis when the column is too narrow for it (the tooltip has it whole)."""

    def __init__(self, text: str, parent: QWidget | None = None,
                 mode: Qt.TextElideMode = Qt.TextElideMode.ElideMiddle) -> None:
        super().__init__(text, parent)
        self.full_text = text
        self.mode = mode
        self.setToolTip(text)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt naming
        super().resizeEvent(event)
        elided = self.fontMetrics().elidedText(self.full_text, self.mode, self.width())
        if elided != self.text():
            self.setText(elided)


class PhotoRowWidget(QFrame):
    toggled = Signal()

    def __init__(self, row: PhotoRow, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("photoRow")
        self.row = row
        thumb = QLabel(self)
        thumb.setObjectName("thumb")
        thumb.setFixedSize(44, 44)
        thumb.setAlignment(Qt.AlignmentFlag.AlignCenter)
        thumb.setPixmap(QPixmap.fromImage(row.thumb.image))
        self.name = ElidedLabel(row.name, self)
        self.name.setObjectName("photoName")
        self.score = QLabel(row.score, self)
        self.score.setObjectName("photoScore")
        self.details = QLabel(row.details, self)
        self.details.setObjectName("photoDetails")
        self.details.setWordWrap(True)
        self.details.setVisible(bool(row.details))
        self.problems = QLabel(row.problems, self)
        self.problems.setObjectName("photoProblems")
        self.problems.setWordWrap(True)
        self.problems.setVisible(bool(row.problems))
        self.button = QPushButton("Leave out" if row.included else "Use again", self)
        self.button.setObjectName("linkButton")
        self.button.setEnabled(row.usable)
        self.button.setToolTip("Make the identity without this photo" if row.included else
                               "Make the identity with this photo again")
        self.button.clicked.connect(self.toggled)

        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(self.name, 1)
        top.addWidget(self.score)
        text = QVBoxLayout()
        text.setContentsMargins(0, 0, 0, 0)
        text.setSpacing(1)
        text.addLayout(top)
        text.addWidget(self.details)
        bottom = QHBoxLayout()  # what is wrong with it, and the button beside it
        bottom.setContentsMargins(0, 0, 0, 0)
        bottom.addWidget(self.problems, 1)
        bottom.addStretch(0 if row.problems else 1)
        bottom.addWidget(self.button, 0, Qt.AlignmentFlag.AlignBottom)
        text.addLayout(bottom)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(6, 5, 6, 5)
        layout.setSpacing(8)
        layout.addWidget(thumb, 0, Qt.AlignmentFlag.AlignTop)
        layout.addLayout(text, 1)
        _restyle(self, flagged=bool(row.problems), included=bool(row.included))

    @property
    def flagged(self) -> bool:
        return bool(self.property("flagged"))


class PhotoQualityList(QWidget):
    """The rows of every photo of the identity; hidden while a single photo is in use."""

    leave_out_toggled = Signal(int)  # the photo's index

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("photoQuality")
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._layout.setSpacing(4)
        self.rows: list[PhotoRowWidget] = []
        self.setVisible(False)

    def show_rows(self, rows: Sequence[PhotoRow]) -> None:
        for widget in self.rows:
            self._layout.removeWidget(widget)
            widget.deleteLater()
        self.rows = []
        for i, row in enumerate(rows):
            widget = PhotoRowWidget(row, self)
            widget.toggled.connect(lambda i=i: self.leave_out_toggled.emit(i))
            self._layout.addWidget(widget)
            self.rows.append(widget)
        self.setVisible(bool(self.rows))

    def set_busy(self, busy: bool) -> None:
        """While the identity is made again, no other photo can be toggled."""
        for widget in self.rows:
            widget.button.setEnabled(not busy and widget.row.usable)
