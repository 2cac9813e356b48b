"""The Live tab's layout: the source face (or photos), the people with a source of their own and the statistics
on the left, the preview in the middle, the controls on the right. Layout only: the main window wires it to the
controllers."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QHBoxLayout, QScrollArea, QVBoxLayout, QWidget

from app.gui.controls import ControlsPanel
from app.gui.people_view import LIVE_HINT, MappedPeopleView
from app.gui.preview import PreviewWidget
from app.gui.source_panel import SourcePanel
from app.gui.stats_panel import StatsPanel


class LiveTab(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("liveTab")
        self.source_panel = SourcePanel()
        self.people = MappedPeopleView(LIVE_HINT)
        self.stats = StatsPanel()
        self.preview = PreviewWidget()
        self.controls = ControlsPanel()

        left = QFrame()
        left.setObjectName("card")
        left.setFixedWidth(316)
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(12, 12, 12, 12)
        left_layout.setSpacing(12)
        # The source photos and the people can outgrow the column: they scroll, the statistics stay in view.
        sources, sources_layout = _scrolling_column("source", 4)
        sources_layout.setSpacing(14)
        sources_layout.addWidget(self.source_panel)
        sources_layout.addWidget(self.people)
        sources_layout.addStretch(1)
        left_layout.addWidget(sources, 1)
        left_layout.addWidget(self.stats, 0)

        preview_card = QFrame()
        preview_card.setObjectName("previewCard")
        preview_layout = QVBoxLayout(preview_card)
        preview_layout.setContentsMargins(0, 0, 0, 0)
        preview_layout.addWidget(self.preview)

        scroll, holder_layout = _scrolling_column("controls", 6)
        holder_layout.addWidget(self.controls)
        scroll.setFixedWidth(320)

        layout = QHBoxLayout(self)
        layout.setContentsMargins(12, 12, 12, 12)
        layout.setSpacing(12)
        layout.addWidget(left)
        layout.addWidget(preview_card, 1)
        layout.addWidget(scroll)


def _scrolling_column(name: str, right_margin: int) -> tuple[QScrollArea, QVBoxLayout]:
    """A vertically scrolling column (objects `<name>Scroll` / `<name>Holder` for the style sheet) and its
    layout."""
    scroll = QScrollArea()
    scroll.setObjectName(f"{name}Scroll")
    scroll.setWidgetResizable(True)
    scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    scroll.setFrameShape(QFrame.Shape.NoFrame)
    holder = QWidget()
    holder.setObjectName(f"{name}Holder")
    layout = QVBoxLayout(holder)
    layout.setContentsMargins(0, 0, right_margin, 0)
    scroll.setWidget(holder)
    return scroll, layout
