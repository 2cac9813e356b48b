"""Live statistics beside the preview: camera and output fps, latency, per-stage time, drops."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QGridLayout, QLabel, QWidget

from app.live.stats import StatsSnapshot

# The worker's stages in order; with any stage this list does not know, they add up to about `total`.
STAGES = ("track", "detect", "swap", "paste", "restore")


class StatsPanel(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("statsPanel")
        grid = QGridLayout(self)
        grid.setContentsMargins(12, 10, 12, 10)
        grid.setHorizontalSpacing(12)
        grid.setVerticalSpacing(4)
        title = QLabel("Statistics")
        title.setObjectName("sectionTitle")
        grid.addWidget(title, 0, 0, 1, 2)
        self._values: dict[str, QLabel] = {}
        rows = [("camera", "Camera"), ("output", "Output"), ("latency", "Latency"), ("drops", "Drops"),
                ("stages", "Stages")]
        for i, (key, text) in enumerate(rows, start=1):
            name = QLabel(text)
            name.setObjectName("statName")
            value = QLabel("\u2014")
            value.setObjectName("statValue")
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            value.setWordWrap(True)
            grid.addWidget(name, i, 0, Qt.AlignmentFlag.AlignTop)
            grid.addWidget(value, i, 1)
            self._values[key] = value
        grid.setColumnStretch(1, 1)
        self.last: StatsSnapshot | None = None

    def value(self, key: str) -> str:
        return str(self._values[key].text())

    def show_stats(self, s: StatsSnapshot) -> None:
        self.last = s
        v = self._values
        v["camera"].setText(f"{s.camera_fps:.1f} fps")
        v["output"].setText(f"{s.output_fps:.1f} fps")
        v["latency"].setText(f"{s.latency_p50_ms:.0f} ms (p95 {s.latency_p95_ms:.0f})")
        v["drops"].setText(f"{s.total_drops} of {s.frames_captured} frames")
        names = [n for n in STAGES if s.stage_ms.get(n)]  # a stage that did not run (0 ms) is left out
        names += [n for n in s.stage_ms if n not in STAGES and n != "total" and s.stage_ms[n]]
        names += ["total"] if "total" in s.stage_ms else []
        stages = [f"{name} {s.stage_ms[name]:.0f} ms" for name in names]
        v["stages"].setText("\n".join(stages) or "\u2014")

    def clear(self) -> None:
        self.last = None
        for label in self._values.values():
            label.setText("\u2014")
