"""The live preview: one widget that paints the newest frame, kept at its aspect ratio.

No widget is created per frame. `prepare` converts a frame once, already at the size it will be shown at; it
only reads plain numbers the UI thread stored on resize, so the live output thread calls it and the UI thread
is left with `set_image` and a paint that blits the image into the largest rectangle of the right aspect that
fits (scaling only until the next frame after a resize). Repaints coalesce in Qt, so a frame that
arrives before the last one was painted simply replaces it.
"""

from __future__ import annotations

from PySide6.QtCore import QPoint, QPointF, QRect, QSize, Qt, Signal
from PySide6.QtGui import QColor, QMouseEvent, QPainter, QPaintEvent, QResizeEvent
from PySide6.QtWidgets import QSizePolicy, QWidget

from app.core.types import Frame
from app.gui.qimage import FrameImage, to_display


def _holds(rect: QRect, pos: QPointF) -> bool:
    """Whether `pos` lies on the pixels of `rect` (QRect.contains takes whole points only)."""
    return rect.x() <= pos.x() < rect.x() + rect.width() and rect.y() <= pos.y() < rect.y() + rect.height()


def fit_rect(image_w: int, image_h: int, area: QRect) -> QRect:
    """The largest rectangle of the image's aspect ratio centred in `area`."""
    if image_w <= 0 or image_h <= 0 or area.width() <= 0 or area.height() <= 0:
        return QRect()
    scale = min(area.width() / image_w, area.height() / image_h)
    w, h = max(1, round(image_w * scale)), max(1, round(image_h * scale))
    return QRect(area.x() + (area.width() - w) // 2, area.y() + (area.height() - h) // 2, w, h)


class PreviewWidget(QWidget):
    """Paints the newest frame; shows a short text when there is none. A click on the picture says where it
    landed in the frame's own pixels (`frame_clicked`)."""

    frame_clicked = Signal(float, float, QPoint)  # frame x, frame y, the click's global position

    def __init__(self, parent: QWidget | None = None, placeholder: str = "Press Start (Space) to go live") -> None:
        super().__init__(parent)
        self.setObjectName("preview")
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent, True)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(320, 180)
        self._frame: FrameImage | None = None
        self.source_size = (0, 0)  # the frame's size before it was fitted to the widget
        self._area = (self.width(), self.height(), 1.0)  # read by prepare() on the output thread
        self._placeholder = placeholder
        self.frames_shown = 0
        self.smooth = True
        self._background = QColor("#0d1117")
        self._text = QColor("#8b949e")

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt naming
        return QSize(960, 540)

    @property
    def current(self) -> FrameImage | None:
        return self._frame

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt naming
        self._area = (self.width(), self.height(), self.devicePixelRatioF())
        super().resizeEvent(event)

    def prepare(self, frame: Frame) -> tuple[FrameImage, tuple[int, int]]:
        """The frame converted for display at the widget's current size. Safe to call from any thread."""
        h, w = frame.shape[:2]
        width, height, ratio = self._area
        target = fit_rect(w, h, QRect(0, 0, width, height))
        # Painted pixels are device pixels: on a HiDPI screen the image is made at the device resolution.
        size = (round(target.width() * ratio), round(target.height() * ratio)) if not target.isEmpty() else None
        return to_display(frame, size), (w, h)

    def set_frame(self, frame: Frame) -> None:
        self.set_prepared(self.prepare(frame))

    def set_prepared(self, prepared: tuple[FrameImage, tuple[int, int]]) -> None:
        self.set_image(*prepared)

    def set_image(self, image: FrameImage, source_size: tuple[int, int] | None = None) -> None:
        """Show `image`; `source_size` is the frame's own size when the image was resized for display."""
        self._frame = image
        self.source_size = source_size or (image.width, image.height)
        self.frames_shown += 1
        self.update()

    def clear(self, placeholder: str | None = None) -> None:
        self._frame = None
        if placeholder is not None:
            self._placeholder = placeholder
        self.update()

    def image_rect(self) -> QRect:
        if self._frame is None:
            return QRect()
        return fit_rect(self.source_size[0], self.source_size[1], self.rect())

    def frame_point(self, pos: QPointF) -> tuple[float, float] | None:
        """The frame pixel under the widget point `pos`, or None off the picture."""
        rect = self.image_rect()
        if rect.isEmpty() or not _holds(rect, pos):
            return None
        return ((pos.x() - rect.x()) * self.source_size[0] / rect.width(),
                (pos.y() - rect.y()) * self.source_size[1] / rect.height())

    def widget_point(self, x: float, y: float) -> QPoint:
        """Where the frame pixel (x, y) is shown (the inverse of `frame_point`); the widget's corner while no
        frame is shown."""
        rect = self.image_rect()
        if rect.isEmpty():
            return QPoint()
        return QPoint(round(rect.x() + x * rect.width() / self.source_size[0]),
                      round(rect.y() + y * rect.height() / self.source_size[1]))

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt naming
        point = self.frame_point(event.position()) if event.button() == Qt.MouseButton.LeftButton else None
        if point is None:
            super().mousePressEvent(event)
            return
        self.frame_clicked.emit(point[0], point[1], event.globalPosition().toPoint())

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt naming
        painter = QPainter(self)
        try:
            frame = self._frame
            if frame is None:
                painter.fillRect(self.rect(), self._background)
                painter.setPen(self._text)
                painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, self._placeholder)
                return
            target = fit_rect(self.source_size[0], self.source_size[1], self.rect())
            # Only the bars around the picture are cleared; the picture covers the rest (opaque paint).
            full = self.rect()
            if target.top() > full.top():
                painter.fillRect(QRect(full.left(), full.top(), full.width(), target.top() - full.top()),
                                 self._background)
                painter.fillRect(QRect(full.left(), target.bottom() + 1, full.width(),
                                       full.bottom() - target.bottom()), self._background)
            if target.left() > full.left():
                painter.fillRect(QRect(full.left(), target.top(), target.left() - full.left(), target.height()),
                                 self._background)
                painter.fillRect(QRect(target.right() + 1, target.top(), full.right() - target.right(),
                                       target.height()), self._background)
            ratio = self.devicePixelRatioF()
            if self.smooth and (round(target.width() * ratio), round(target.height() * ratio)) != (
                    frame.width, frame.height):
                painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
            painter.drawImage(target, frame.image)
        finally:
            painter.end()
