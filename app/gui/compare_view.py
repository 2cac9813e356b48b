"""Before/after comparison: the result on the left of a divider the user drags, the original on its right."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QMouseEvent, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from app.core.types import Frame
from app.gui.preview import fit_rect
from app.gui.qimage import FrameImage, to_display


class CompareView(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("compareView")
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(320, 240)
        self.setMouseTracking(False)
        self.setCursor(Qt.CursorShape.SplitHCursor)
        self._before: FrameImage | None = None
        self._after: FrameImage | None = None
        self.split = 0.5  # fraction of the picture's width showing the result
        self.placeholder = "Drop photos or videos here, or click \u201cAdd\u2026\u201d"

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt naming
        return QSize(800, 600)

    def set_images(self, before: Frame | None, after: Frame | None) -> None:
        self._before = to_display(before) if before is not None else None
        self._after = to_display(after) if after is not None else None
        self.update()

    def _move_split(self, pos: QPointF) -> None:
        base = self._before or self._after
        if base is None:
            return
        target = fit_rect(base.width, base.height, self.rect())
        if target.width() > 0:
            self.split = min(1.0, max(0.0, (pos.x() - target.x()) / target.width()))
            self.update()

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt naming
        self._move_split(event.position())

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt naming
        if event.buttons() & Qt.MouseButton.LeftButton:
            self._move_split(event.position())

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt naming
        painter = QPainter(self)
        try:
            painter.fillRect(self.rect(), QColor("#0d1117"))
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
            base = self._before or self._after
            if base is None:
                painter.setPen(QColor("#8b949e"))
                painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, self.placeholder)
                return
            target = fit_rect(base.width, base.height, self.rect().adjusted(8, 8, -8, -8))
            painter.drawImage(target, base.image)
            if self._after is None or self._before is None:
                if self._after is not None:
                    painter.drawImage(target, self._after.image)
                return
            x = target.x() + target.width() * self.split
            painter.save()
            painter.setClipRect(QRectF(target.x(), target.y(), x - target.x(), target.height()))
            painter.drawImage(target, self._after.image)
            painter.restore()
            painter.setPen(QPen(QColor("#f0f6fc"), 2))
            painter.drawLine(QPointF(x, target.top()), QPointF(x, target.bottom()))
            font = QFont(painter.font())
            font.setBold(True)
            painter.setFont(font)
            self._tag(painter, QPointF(target.x() + 10, target.y() + 10), "After")
            self._tag(painter, QPointF(target.right() - 70, target.y() + 10), "Before")
        finally:
            painter.end()

    @staticmethod
    def _tag(painter: QPainter, at: QPointF, text: str) -> None:
        rect = QRectF(at.x(), at.y(), 60, 24)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(13, 17, 23, 190))
        painter.drawRoundedRect(rect, 6, 6)
        painter.setPen(QColor("#f0f6fc"))
        painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, text)
