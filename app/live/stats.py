"""Thread-safe statistics of a live session, read as an immutable snapshot by every front end."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np

from app.core.fluid import RenderInfo
from app.core.rates import RateMeter


@dataclass(frozen=True)
class StatsSnapshot:
    """What the live loop is doing, at one moment."""

    camera_fps: float = 0.0
    output_fps: float = 0.0
    stage_ms: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))
    latency_p50_ms: float = 0.0
    latency_p95_ms: float = 0.0
    latency_max_ms: float = 0.0
    drops: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    frames_captured: int = 0
    frames_processed: int = 0
    frames_output: int = 0
    # How faces are shown (app/core/fluid.py): "fluid" or "exact" ("" before any face was swapped), how often a
    # shown face is replaced by a new swap, how old the oldest face shown in the newest frame is (None: none
    # shown swapped), and what the swap costs per face.
    render: str = ""
    face_fps: float = 0.0
    face_age_ms: float | None = None
    swap_ms_per_face: float = 0.0
    faces_waiting: int = 0  # people shown as they are (or blurred) until their first swap
    faces_faded: int = 0  # people whose swap is faded out because they turned

    @property
    def total_drops(self) -> int:
        return sum(self.drops.values())

    def format(self) -> str:
        """One line for a headless console (printed once a second) or a status bar."""
        stages = " ".join(f"{name} {ms:.0f}" for name, ms in self.stage_ms.items())
        drops = " ".join(f"{name} {n}" for name, n in self.drops.items())
        line = f"camera {self.camera_fps:.1f} fps | output {self.output_fps:.1f} fps"
        if self.render:
            line += f" ({self.render}) | {self.face_text()}"
        line += f" | latency p50 {self.latency_p50_ms:.0f} ms p95 {self.latency_p95_ms:.0f} ms"
        if stages:
            line += f" | ms: {stages}"
        if drops:
            line += f" | drops: {drops}"
        return line

    def face_text(self) -> str:
        """How the swapped faces keep up: 'face updated 0.4 times a second, shown 1.2 s old'."""
        text = f"face updated {self.face_fps:.1f} times a second"
        if self.face_age_ms is not None and self.render == "fluid":
            text += f", shown {self.face_age_ms / 1000.0:.1f} s old"
        if self.faces_waiting:
            text += f", {self.faces_waiting} waiting for a first swap"
        if self.faces_faded:
            text += f", {self.faces_faded} faded (turned)"
        return text


class LiveStats:
    """Collects what the capture, worker and output threads report. Every method is thread-safe."""

    def __init__(self, window_s: float = 2.0, latency_samples: int = 300, stage_alpha: float = 0.1,
                 face_window_s: float = 10.0) -> None:
        self._lock = threading.Lock()
        self._camera = RateMeter(window_s)
        self._output = RateMeter(window_s)
        self._faces = RateMeter(face_window_s)  # swaps come seconds apart on a CPU
        self._render: RenderInfo | None = None
        self._render_mode = ""
        self._latencies: deque[float] = deque(maxlen=latency_samples)
        self._stage_alpha = stage_alpha
        self._stage_ms: dict[str, float] = {}
        self._drops: dict[str, int] = {}
        self._captured = 0
        self._processed = 0
        self._output_count = 0

    def record_capture(self, t: float | None = None) -> None:
        with self._lock:
            self._captured += 1
            self._camera.tick(time.perf_counter() if t is None else t)

    def record_timings(self, timings: Mapping[str, float]) -> None:
        """One processed frame's milliseconds per stage, folded into moving averages."""
        a = self._stage_alpha
        with self._lock:
            self._processed += 1
            for name, ms in timings.items():
                old = self._stage_ms.get(name)
                self._stage_ms[name] = float(ms) if old is None else (1 - a) * old + a * float(ms)

    def record_output(self, captured_at: float, t: float | None = None) -> float:
        """A frame reached the sinks; returns its end-to-end latency in ms."""
        now = time.perf_counter() if t is None else t
        latency = (now - captured_at) * 1000.0
        with self._lock:
            self._output_count += 1
            self._output.tick(now)
            self._latencies.append(latency)
        return latency

    def record_render(self, info: RenderInfo | None, t: float | None = None) -> None:
        """How the newest frame's faces were rendered (None: no face to swap in it)."""
        now = time.perf_counter() if t is None else t
        with self._lock:
            self._render = info
            if info is not None:
                self._render_mode = info.mode
                if info.updated:
                    self._faces.tick(now)

    def record_drop(self, where: str, n: int = 1) -> None:
        with self._lock:
            self._drops[where] = self._drops.get(where, 0) + n

    def latencies_ms(self) -> list[float]:
        """The latencies kept in the window, oldest first."""
        with self._lock:
            return list(self._latencies)

    def snapshot(self, now: float | None = None) -> StatsSnapshot:
        t = time.perf_counter() if now is None else now
        with self._lock:
            lat = np.asarray(self._latencies, dtype=np.float64)
            p50, p95 = (float(v) for v in np.percentile(lat, [50, 95])) if lat.size else (0.0, 0.0)
            r = self._render
            return StatsSnapshot(
                camera_fps=self._camera.rate(t),
                output_fps=self._output.rate(t),
                stage_ms=MappingProxyType(dict(self._stage_ms)),
                latency_p50_ms=p50,
                latency_p95_ms=p95,
                latency_max_ms=float(lat.max()) if lat.size else 0.0,
                drops=MappingProxyType(dict(self._drops)),
                frames_captured=self._captured,
                frames_processed=self._processed,
                frames_output=self._output_count,
                render=self._render_mode,
                face_fps=self._faces.rate(t),
                face_age_ms=None if r is None or r.face_age_s is None else r.face_age_s * 1000.0,
                swap_ms_per_face=(r.swap_ms_per_face or 0.0) if r is not None else 0.0,
                faces_waiting=r.pending if r is not None else 0,
                faces_faded=r.faded if r is not None else 0,
            )
