"""A sink the user turns on and off while live (virtual camera, recording).

The session's sinks are fixed when it starts; this one is always there and opens or closes the real sink on
the output thread at the next frame after the user's choice changes. The choice is one reference (set from
the UI thread, read by the output thread), so no lock is needed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from app.core.types import Frame
from app.errors import DLCError
from app.live.sinks import Sink, Size

log = logging.getLogger(__name__)

# (state, detail): state is 'on', 'off' or 'unavailable'; detail is the device or file, or the reason.
StateCallback = Callable[[str, str], None]


class SwitchableSink:
    """Wraps a factory of real sinks; `enabled` is read before every frame."""

    def __init__(self, name: str, factory: Callable[[], Sink], on_state: StateCallback,
                 describe: Callable[[Sink], str] | None = None) -> None:
        self.name = name
        self.enabled = False
        self._factory = factory
        self._on_state = on_state
        self._describe = describe or (lambda sink: sink.name)
        self._inner: Sink | None = None
        self._size: Size | None = None
        self._fps = 30.0

    @property
    def active(self) -> bool:
        return self._inner is not None

    def open(self, size: Size, fps: float) -> None:
        self._size, self._fps = size, fps

    def send(self, frame: Frame) -> None:
        want = self.enabled
        if want and self._inner is None:
            self._start((frame.shape[1], frame.shape[0]))
        elif not want and self._inner is not None:
            self._stop("off", "")
        inner = self._inner
        if inner is None:
            return
        try:
            inner.send(frame)
        except Exception as exc:
            log.warning("%s failed: %s", self.name, exc)
            self.enabled = False
            self._stop("unavailable", f"{self.name} stopped: {exc}")

    def close(self) -> None:
        if self._inner is not None:
            self._stop("off", "")

    def _start(self, frame_size: Size) -> None:
        sink = self._factory()
        try:
            sink.open(self._size or frame_size, self._fps)
        except DLCError as exc:  # SinkUnavailable, OutputError: said to the user, the session goes on
            self.enabled = False
            self._on_state("unavailable", str(exc))
            return
        except Exception as exc:
            log.exception("%s could not open", self.name)
            self.enabled = False
            self._on_state("unavailable", f"{self.name} could not open: {exc}")
            return
        self._inner = sink
        self._on_state("on", self._describe(sink))

    def _stop(self, state: str, detail: str) -> None:
        sink, self._inner = self._inner, None
        if sink is not None:
            try:
                sink.close()
            except Exception:
                log.exception("closing %s failed", self.name)
        self._on_state(state, detail)
