"""The one Qt adapter of a live session's event channel: drained on the UI thread, turned into signals."""

from __future__ import annotations

from PySide6.QtCore import QObject, QTimer, Signal

from app.live.events import Ended, EventChannel, Notice, SinkState, Stats


class EventPump(QObject):
    notice = Signal(str, object)  # text, the models whose download would help (or None)
    sink_state = Signal(str, str, str)  # sink name, state ('on', 'off', 'unavailable'), detail
    stats = Signal(object)  # StatsSnapshot
    ended = Signal(str, object)  # reason ('end of input', 'error', 'stopped'), the error or None

    def __init__(self, interval_ms: int = 100, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._channel: EventChannel | None = None
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self.pump)

    def attach(self, channel: EventChannel) -> None:
        self._channel = channel
        self._timer.start()

    def detach(self) -> None:
        """Hand out what is left, then stop listening."""
        self.pump()
        self._timer.stop()
        self._channel = None

    def pump(self) -> None:
        channel = self._channel
        if channel is None:
            return
        for event in channel.drain():
            if isinstance(event, Stats):
                self.stats.emit(event.snapshot)
            elif isinstance(event, Notice):
                self.notice.emit(event.text, event.fetch)
            elif isinstance(event, SinkState):
                self.sink_state.emit(event.sink, event.state, event.detail)
            elif isinstance(event, Ended):
                self.ended.emit(event.reason, event.error)
