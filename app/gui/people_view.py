"""The people given a source of their own: the person, their source, and a button that removes the mapping.
One list per tab, each showing the one map that the face-map controller owns (app/gui/face_map_controller.py)."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from app.gui.face_map_controller import MappedEntry
from app.gui.qimage import FrameImage
from app.gui.source_photos_view import ElidedLabel

LIVE_HINT = "While live, click a face in the preview to give that person a source of their own."
PHOTOS_HINT = "In photos and videos too, these people get their own source."


def _thumb(image: FrameImage | None, parent: QWidget) -> QLabel:
    label = QLabel(parent)
    label.setObjectName("thumb")
    label.setFixedSize(44, 44)
    label.setAlignment(Qt.AlignmentFlag.AlignCenter)
    if image is not None:
        label.setPixmap(QPixmap.fromImage(image.image))
    return label


class PersonRow(QFrame):
    remove_requested = Signal(str)

    def __init__(self, entry: MappedEntry, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("personRow")
        self.entry = entry
        self.label = ElidedLabel(entry.label, self)
        self.label.setObjectName("photoName")
        self.gets = ElidedLabel(f"\u2192 {entry.source_label}", self, Qt.TextElideMode.ElideRight)
        self.gets.setToolTip(f"{entry.label} gets {entry.source_label}")
        self.gets.setObjectName("caption")
        text = QVBoxLayout()
        text.setContentsMargins(0, 0, 0, 0)
        text.setSpacing(2)
        text.addStretch(1)
        text.addWidget(self.label)
        text.addWidget(self.gets)
        text.addStretch(1)
        self.remove_button = QPushButton("\u2715", self)
        self.remove_button.setObjectName("removeButton")
        self.remove_button.setToolTip(f"{entry.label}: back to the default source")
        self.remove_button.setFixedWidth(28)
        self.remove_button.clicked.connect(lambda: self.remove_requested.emit(entry.name))
        layout = QHBoxLayout(self)
        layout.setContentsMargins(6, 4, 6, 4)
        layout.setSpacing(6)
        layout.addWidget(_thumb(entry.person_thumb, self))
        layout.addWidget(_thumb(entry.source_thumb, self))
        layout.addLayout(text, 1)
        layout.addWidget(self.remove_button)


class MappedPeopleView(QWidget):
    """A title, a hint (how to add someone), the rows, and, where given, a button to map a person."""

    remove_requested = Signal(str)  # the person's name in the map
    map_requested = Signal()

    def __init__(self, hint: str, map_button: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("peopleView")
        title = QLabel("People with their own source", self)
        title.setObjectName("sectionTitle")
        self.hint = QLabel(hint, self)
        self.hint.setObjectName("caption")
        self.hint.setWordWrap(True)
        self._rows_layout = QVBoxLayout()
        self._rows_layout.setContentsMargins(0, 0, 0, 0)
        self._rows_layout.setSpacing(4)
        self.rows: list[PersonRow] = []
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(6)
        layout.addWidget(title)
        layout.addWidget(self.hint)
        layout.addLayout(self._rows_layout)
        self.map_button: QPushButton | None = None
        if map_button:
            self.map_button = QPushButton(map_button, self)
            self.map_button.clicked.connect(self.map_requested)
            layout.addWidget(self.map_button)

    def show_people(self, entries: Sequence[MappedEntry]) -> None:
        for row in self.rows:
            self._rows_layout.removeWidget(row)
            row.deleteLater()
        self.rows = []
        for entry in entries:
            row = PersonRow(entry, self)
            row.remove_requested.connect(self.remove_requested)
            self._rows_layout.addWidget(row)
            self.rows.append(row)

    def names(self) -> list[str]:
        return [row.entry.name for row in self.rows]
