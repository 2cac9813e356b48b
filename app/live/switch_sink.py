"""A sink the user turns on and off while live (virtual camera, recording).

The session's sinks are fixed when it starts; this one is always there and opens or closes the real sink on
the output thread at the next frame after the user's choice changes. The choice is written by the front end's
thread only (`request`), as one reference; what happened to it (on, off, unavailable) is written by the output
thread only and told through the session's event channel. A request that failed is not retried until the user
asks again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from app.core.types import Frame
from app.errors import DLCError
from app.live.events import EventChannel, SinkState, SinkStateName
from app.live.sinks import Sink, Size

log = logging.getLogger(__name__)


class SwitchableSink:
    """Wraps a factory of real sinks; the latest request is read before every frame."""

    def __init__(self, name: str, factory: Callable[[], Sink], events: EventChannel,
                 describe: Callable[[Sink], str] | None = None, wanted: bool = False) -> None:
        self.name = name
        self._factory = factory
        self._events = events
        self._describe = describe or (lambda sink: sink.name)
        self._request = (wanted, 0)  # (on, the how-many-th request): the front end's thread writes it
        self._failed = -1  # the request that could not be served: the output thread writes it
        self._inner: Sink | None = None
        self._size: Size | None = None
        self._fps = 30.0

    @property
    def active(self) -> bool:
        return self._inner is not None

    @property
    def wanted(self) -> bool:
        return self._request[0]

    def request(self, on: bool) -> None:
        """The user's choice; served at the next frame."""
        self._request = (on, self._request[1] + 1)

    def open(self, size: Size, fps: float) -> None:
        self._size, self._fps = size, fps

    def send(self, frame: Frame) -> None:
        on, number = self._request
        if on and self._inner is None and number != self._failed:
            self._start((frame.shape[1], frame.shape[0]), number)
        elif not on and self._inner is not None:
            self._stop("off", "")
        inner = self._inner
        if inner is None:
            return
        try:
            inner.send(frame)
        except Exception as exc:
            log.warning("%s failed: %s", self.name, exc)
            self._failed = number
            self._stop("unavailable", f"{self.name} stopped: {exc}")

    def close(self) -> None:
        if self._inner is not None:
            self._stop("off", "")

    def _start(self, frame_size: Size, number: int) -> None:
        sink = self._factory()
        try:
            sink.open(self._size or frame_size, self._fps)
        except DLCError as exc:  # SinkUnavailable, OutputError: said to the user, the session goes on
            self._failed = number
            self._say("unavailable", str(exc))
            return
        except Exception as exc:
            log.exception("%s could not open", self.name)
            self._failed = number
            self._say("unavailable", f"{self.name} could not open: {exc}")
            return
        self._inner = sink
        self._say("on", self._describe(sink))

    def _stop(self, state: SinkStateName, detail: str) -> None:
        sink, self._inner = self._inner, None
        if sink is not None:
            try:
                sink.close()
            except Exception:
                log.exception("closing %s failed", self.name)
        self._say(state, detail)

    def _say(self, state: SinkStateName, detail: str) -> None:
        self._events.publish(SinkState(self.name, state, detail))
