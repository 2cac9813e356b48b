"""Runs one LiveSession for the window: start and stop off the UI thread, the preview fed with the newest
output frame, the session's events (statistics, notices, sink states, its end) turned into signals by one
adapter, options and source handed over as whole objects, sinks switched live."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal

from app.core.options import SwapOptions
from app.core.processor import FaceEngine
from app.core.types import Frame
from app.gui.live_events import EventPump
from app.gui.messages import note_text, user_text
from app.gui.paths import recording_path
from app.gui.settings import CameraChoice
from app.gui.tasks import TaskRunner
from app.live.capture import CaptureSettings, OpenCVSource, parse_camera_spec
from app.live.events import EventChannel
from app.live.runtime import LiveSession
from app.live.sinks import CallbackSink, RecorderSink, Sink, VirtualCameraSink
from app.live.switch_sink import SwitchableSink

log = logging.getLogger(__name__)


class LiveController(QObject):
    state_changed = Signal(str)  # 'idle', 'starting', 'live', 'stopping'
    frame_ready = Signal()  # emitted by the output thread; coalesced (at most one pending)
    frame_shown = Signal(object)  # the newest output frame (or what `prepare` made of it), on the UI thread
    stats_updated = Signal(object)  # StatsSnapshot
    message = Signal(str, str)  # text, level
    sink_state = Signal(str, str, str)  # sink name ('virtual camera' / 'recorder'), state, detail

    def __init__(self, tasks: TaskRunner, engine: Callable[[], FaceEngine], stats_interval_ms: int = 100,
                 virtual_camera_backend: str | None = None, prepare: Callable[[Frame], Any] | None = None) -> None:
        """`prepare`, when given, runs on the output thread on every frame (the preview's display conversion),
        so that the UI thread only paints."""
        super().__init__()
        self._prepare = prepare
        self._tasks = tasks
        self._engine = engine
        self.session: LiveSession | None = None
        self.state = "idle"
        self._options = SwapOptions()
        self._source: Any = None
        self._latest: Any = None
        self._latest_lock = threading.Lock()
        self._pending = False
        self.frames_received = 0
        self.virtual_camera_backend = virtual_camera_backend
        self.virtual_camera_wanted = False
        self.recording_wanted = False
        self.record_path = ""  # the chosen file; each recording is named after it (paths.recording_path)
        self._recording = ""  # the file being recorded to
        # The switchable sinks of the running session (made for each session, posting to its channel).
        self.vcam: SwitchableSink | None = None
        self.recorder: SwitchableSink | None = None
        self.events = EventPump(stats_interval_ms, self)
        self.events.stats.connect(self.stats_updated)
        self.events.notice.connect(lambda text, fetch: self.message.emit(note_text(text, fetch), "warning"))
        self.events.sink_state.connect(self._sink_state)
        self.events.ended.connect(self._ended)
        self.frame_ready.connect(self._take_frame)
        self._capture_source: OpenCVSource | None = None
        self._opening: LiveSession | None = None

    # -- what the worker uses -----------------------------------------------------------------------------
    @property
    def live(self) -> bool:
        return self.state == "live"

    def set_options(self, options: SwapOptions) -> None:
        self._options = options
        if self.session is not None:
            self.session.set_options(options)

    def set_source(self, source: Any) -> None:
        self._source = source
        if self.session is not None:
            self.session.set_source(source)

    def set_mirror(self, mirror: bool) -> None:
        src = self._capture_source
        if src is not None:
            # CaptureSettings is frozen: the capture thread sees the old or the new object, never a mix.
            src.settings = CaptureSettings(src.settings.width, src.settings.height, src.settings.fps, mirror)

    def set_virtual_camera(self, on: bool) -> None:
        self.virtual_camera_wanted = on
        if self.vcam is not None:
            self.vcam.request(on)
        if not on:
            self.sink_state.emit("virtual camera", "off", "")
        elif not self.live:
            self.sink_state.emit("virtual camera", "armed", "")

    def set_recording(self, on: bool, path: str | None = None) -> None:
        if path is not None:
            self.record_path = path
        self.recording_wanted = on and bool(self.record_path)
        if self.recorder is not None:
            self.recorder.request(self.recording_wanted)
        if on and not self.record_path:
            self.message.emit("Choose a file to record to first.", "warning")
            self.sink_state.emit("recorder", "off", "")

    # -- start / stop -------------------------------------------------------------------------------------
    def start(self, camera: CameraChoice) -> None:
        if self.state != "idle":
            return
        self._set_state("starting")
        self._tasks.spawn(self._start(camera))

    async def _start(self, camera: CameraChoice) -> None:
        spec = parse_camera_spec(camera.spec) if camera.spec else None
        if spec is None:
            self.message.emit("No camera to start: connect one, or choose \u201cVideo file\u2026\u201d.", "error")
            self._set_state("idle")
            return
        source = OpenCVSource(spec, CaptureSettings(camera.width, camera.height, camera.fps, camera.mirror))
        events = EventChannel()
        vcam = SwitchableSink("virtual camera", self._make_vcam, events, self._describe_vcam,
                              wanted=self.virtual_camera_wanted)
        recorder = SwitchableSink("recorder", self._make_recorder, events, lambda s: str(getattr(s, "path", "")),
                                  wanted=self.recording_wanted)
        sinks: list[Sink] = [CallbackSink(self._on_output_frame), vcam, recorder]
        session = LiveSession(self._engine(), source, self._options, self._source, sinks=sinks, events=events)
        self.vcam, self.recorder = vcam, recorder
        self._opening = session  # so that closing the window mid-start still stops it
        try:
            info = await self._tasks.run(session.start)
        except Exception as exc:
            self._opening = None
            self._set_state("idle")
            self.message.emit(user_text(exc), "error")
            return
        self._opening = None
        self.session = session
        self._capture_source = source
        session.set_options(self._options)  # changes made while it was opening
        session.set_source(self._source)
        vcam.request(self.virtual_camera_wanted)
        recorder.request(self.recording_wanted)
        self.events.attach(events)
        self._set_state("live")
        self.message.emit(f"Live: {info.description}, {info.width}\u00d7{info.height} at {info.fps:.0f} fps", "info")

    def stop(self) -> None:
        if self.state != "live" or self.session is None:
            return
        self._set_state("stopping")
        self._tasks.spawn(self._stop())

    async def _stop(self) -> None:
        session = self.session
        if session is not None:
            joined = await self._tasks.run(session.stop)
            if not joined:
                self.message.emit("The live threads took long to stop; they end after the current frame.",
                                  "warning")
        self._finish(session)

    def stop_now(self) -> bool:
        """Stop at once on the calling thread (closing the window, after the task runner shut down, so no
        start is still running); True when every thread joined."""
        opening, self._opening = self._opening, None
        joined = True
        if opening is not None:  # its start finished but its task was cancelled before taking it over
            joined = opening.stop()
        session = self.session
        if session is None:
            if opening is not None:
                self._finish(None)
            return joined
        joined = session.stop() and joined
        self._finish(session)
        return joined

    def toggle(self, camera: CameraChoice) -> None:
        if self.state == "idle":
            self.start(camera)
        elif self.state == "live":
            self.stop()

    def _finish(self, session: LiveSession | None) -> None:
        self.events.detach()  # the last statistics and notices, shown
        self.session = None
        self._capture_source = None
        self._set_state("idle")

    def _set_state(self, state: str) -> None:
        self.state = state
        self.state_changed.emit(state)

    # -- frames and statistics ----------------------------------------------------------------------------
    def _on_output_frame(self, frame: Frame) -> None:
        """On the output thread: keep only the newest frame and wake the UI once."""
        item = self._prepare(frame) if self._prepare is not None else frame
        with self._latest_lock:
            self._latest = item
            self.frames_received += 1
            if self._pending:
                return
            self._pending = True
        self.frame_ready.emit()

    def _take_frame(self) -> None:
        with self._latest_lock:
            frame, self._latest = self._latest, None
            self._pending = False
        if frame is not None:
            self.frame_shown.emit(frame)

    def _ended(self, reason: str, error: BaseException | None) -> None:
        """The session stopped by itself (an error, the end of a video file): tidy up as a Stop would."""
        if self.state != "live":
            return
        if error is not None:
            self.message.emit(f"Live stopped: {user_text(error)}", "error")
        elif reason == "end of input":
            self.message.emit("The video file has ended.", "info")
        self._set_state("stopping")
        self._tasks.spawn(self._stop())

    # -- sinks --------------------------------------------------------------------------------------------
    def _make_vcam(self) -> Sink:
        return VirtualCameraSink(backend=self.virtual_camera_backend)

    @staticmethod
    def _describe_vcam(sink: Sink) -> str:
        return str(getattr(sink, "device", "") or "virtual camera")

    def _make_recorder(self) -> Sink:
        # Each recording is a new file beside the chosen one: a second recording never replaces the first.
        return RecorderSink(recording_path(self.record_path))

    def _sink_state(self, name: str, state: str, detail: str) -> None:
        if state == "unavailable":  # the box is unticked; the sink will not try that request again
            if name == "recorder":
                self.recording_wanted = False
            else:
                self.virtual_camera_wanted = False
        if name == "recorder":
            if state == "on":
                self._recording = detail
            elif self._recording:
                if state == "off" and Path(self._recording).is_file():
                    self.message.emit(f"Recording saved to {self._recording}", "info")
                self._recording = ""
        self.sink_state.emit(name, state, detail)
