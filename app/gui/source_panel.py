"""The source face panel: drop or open one photo (its faces are boxed; a click picks which one is the source) or
several photos of one person (one identity; each photo's quality in a list, see source_photos_view.py)."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QPointF, QRect, QRectF, QSize, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QDragEnterEvent,
    QDropEvent,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPen,
    QResizeEvent,
)
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QSizePolicy, QVBoxLayout, QWidget

from app.core.types import Face, Frame
from app.gui.paths import paths_from_mime
from app.gui.preview import fit_rect
from app.gui.qimage import FrameImage, to_display
from app.gui.source_photos_view import PhotoQualityList

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")


class FaceImageView(QWidget):
    """Paints a photo (aspect kept) with a box around each face; the chosen face is highlighted."""

    face_clicked = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("faceView")
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setMinimumWidth(220)
        self.setFixedHeight(240)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self._image: FrameImage | None = None
        self._faces: list[Face] = []
        self.selected = -1
        self.placeholder = "Drop a face photo here\n(or several of one person)"
        self.max_height = 420

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt naming
        return QSize(276, self.height_for(276))

    def height_for(self, width: int) -> int:
        """As tall as the photo needs at this width (no empty bands), within sensible bounds."""
        if self._image is None:
            return 240
        fitted = round((width - 12) * self._image.height / self._image.width) + 12
        return max(min(160, self.max_height), min(self.max_height, fitted))

    def _fit_height(self) -> None:
        # A fixed height that follows the width (a heightForWidth override trips a PySide refcount bug).
        height = self.height_for(self.width())
        if height != self.height():
            self.setFixedHeight(height)

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt naming
        super().resizeEvent(event)
        self._fit_height()

    @property
    def faces(self) -> list[Face]:
        return list(self._faces)

    def set_photo(self, image: Frame | None, faces: Sequence[Face] = (), selected: int = -1,
                  max_height: int = 420) -> None:
        """Show `image` with `faces` boxed; `max_height` keeps it small when a list of photos goes below it."""
        self.max_height = max_height
        self._image = to_display(image) if image is not None else None
        self._faces = list(faces)
        self.selected = selected
        self._fit_height()
        self.update()

    def set_selected(self, index: int) -> None:
        self.selected = index
        self.update()

    def _image_rect(self) -> QRect:
        if self._image is None:
            return QRect()
        return fit_rect(self._image.width, self._image.height, self.rect().adjusted(6, 6, -6, -6))

    def face_rect(self, index: int) -> QRectF:
        """Where face `index` is drawn, in widget coordinates."""
        target = self._image_rect()
        if self._image is None or target.isEmpty():
            return QRectF()
        s = target.width() / self._image.width
        x1, y1, x2, y2 = self._faces[index].box
        return QRectF(target.x() + x1 * s, target.y() + y1 * s, (x2 - x1) * s, (y2 - y1) * s)

    def face_at(self, pos: QPointF) -> int:
        """The face under `pos` (the smallest box containing it), or -1."""
        hits = [(r.width() * r.height(), i) for i in range(len(self._faces)) if (r := self.face_rect(i)).contains(pos)]
        return min(hits)[1] if hits else -1

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt naming
        if event.button() == Qt.MouseButton.LeftButton:
            index = self.face_at(event.position())
            if index >= 0:
                self.face_clicked.emit(index)
                return
        super().mousePressEvent(event)

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt naming
        painter = QPainter(self)
        try:
            painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
            if self._image is None:
                pen = QPen(QColor("#3d4654"), 2, Qt.PenStyle.DashLine)
                painter.setPen(pen)
                painter.drawRoundedRect(QRectF(self.rect()).adjusted(8, 8, -8, -8), 12, 12)
                painter.setPen(QColor("#8b949e"))
                painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, self.placeholder)
                return
            painter.drawImage(self._image_rect(), self._image.image)
            for i in range(len(self._faces)):
                chosen = i == self.selected
                pen = QPen(QColor("#3fb950" if chosen else "#e3b341"), 3 if chosen else 1.5)
                if not chosen:
                    pen.setStyle(Qt.PenStyle.DashLine)
                painter.setPen(pen)
                painter.drawRoundedRect(self.face_rect(i), 4, 4)
        finally:
            painter.end()


class SourcePanel(QWidget):
    """The photo view, a line that says what happened (e.g. no face found), the photos' quality list, and buttons
    to open photos and to add more of the same person."""

    open_requested = Signal()
    add_requested = Signal()
    photos_dropped = Signal(object)  # list[str]: dropped image files, in order
    face_clicked = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("sourcePanel")
        self.setAcceptDrops(True)
        title = QLabel("Source face", self)
        title.setObjectName("sectionTitle")
        self.view = FaceImageView(self)
        self.view.face_clicked.connect(self.face_clicked)
        self.message = QLabel("", self)
        self.message.setObjectName("sourceMessage")
        self.message.setWordWrap(True)
        self.photos = PhotoQualityList(self)
        self.open_button = QPushButton("Open photos\u2026", self)
        self.open_button.setToolTip("One photo, or several of the same person (they make one identity)")
        self.open_button.clicked.connect(self.open_requested)
        self.add_button = QPushButton("Add photos\u2026", self)
        self.add_button.setToolTip("More photos of the same person: they join the identity")
        self.add_button.clicked.connect(self.add_requested)
        buttons = QHBoxLayout()
        buttons.setContentsMargins(0, 0, 0, 0)
        buttons.addWidget(self.open_button)
        buttons.addWidget(self.add_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(title)
        layout.addWidget(self.view)
        layout.addWidget(self.message)
        layout.addLayout(buttons)
        layout.addWidget(self.photos)

    def say(self, text: str, level: str = "info") -> None:
        self.message.setText(text)
        self.message.setProperty("level", level)
        self.message.style().unpolish(self.message)
        self.message.style().polish(self.message)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 - Qt naming
        if paths_from_mime(event, IMAGE_SUFFIXES):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 - Qt naming
        paths = paths_from_mime(event, IMAGE_SUFFIXES)
        if not paths:
            event.ignore()
            return
        event.acceptProposedAction()
        self.photos_dropped.emit([str(p) for p in paths])
