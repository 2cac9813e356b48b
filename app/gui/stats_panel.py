"""Live statistics beside the preview: camera and output fps (and the render: fluid or exact), how often the
face is updated and how old the shown one is, latency, per-stage time, drops."""

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
        rows = [("camera", "Camera"), ("output", "Output"), ("face", "Face"), ("latency", "Latency"),
                ("drops", "Drops"), ("stages", "Stages")]
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
        v["output"].setText(f"{s.output_fps:.1f} fps" + (f" ({s.render})" if s.render else ""))
        v["face"].setText(self.face_text(s))
        v["latency"].setText(f"{s.latency_p50_ms:.0f} ms (p95 {s.latency_p95_ms:.0f})")
        v["drops"].setText(f"{s.total_drops} of {s.frames_captured} frames")
        names = [n for n in STAGES if s.stage_ms.get(n)]  # a stage that did not run (0 ms) is left out
        names += [n for n in s.stage_ms if n not in STAGES and n != "total" and s.stage_ms[n]]
        names += ["total"] if "total" in s.stage_ms else []
        stages = [f"{name} {s.stage_ms[name]:.0f} ms" for name in names]
        v["stages"].setText("\n".join(stages) or "\u2014")

    @staticmethod
    def face_text(s: StatsSnapshot) -> str:
        """'updated 0.4 times a second' and, while fluid, 'shown 1.2 s old' (and who waits or is faded)."""
        if not s.render:
            return "\u2014"
        lines = [f"updated {s.face_fps:.1f} times a second"]
        if s.render == "fluid" and s.face_age_ms is not None:
            lines.append(f"shown {s.face_age_ms / 1000.0:.1f} s old")
        if s.swap_ms_per_face:
            lines.append(f"swap {s.swap_ms_per_face:.0f} ms a face")
        if s.faces_waiting:
            lines.append(f"{s.faces_waiting} waiting for a first swap")
        if s.faces_faded:
            lines.append(f"{s.faces_faded} faded (turned away)")
        return "\n".join(lines)

    def clear(self) -> None:
        self.last = None
        for label in self._values.values():
            label.setText("\u2014")
