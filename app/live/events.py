"""One event channel per live session: everything a session has to tell its front end, in order.

Modelled on GStreamer's bus: the session's threads (capture, worker, output) post events; each front end
drains the channel from its own thread (the GUI through one Qt adapter, app/gui/live_events.py; headless
`live` by printing). Nothing else is shared between those threads and the front end: no list appended from
several threads, no flag written by two. Statistics are coalesced (only the newest waits), so a front end that
drains slowly never falls behind.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass
from typing import Literal

from app.live.stats import StatsSnapshot

SinkStateName = Literal["on", "off", "unavailable"]
EndReason = Literal["end of input", "error", "stopped"]


@dataclass(frozen=True)
class Notice:
    """Something the user should know while the session goes on (a sink missing, restoration not ready); `fetch`
    names the models whose download would help (each front end words how)."""

    text: str
    fetch: tuple[str, ...] | None = None


@dataclass(frozen=True)
class SinkState:
    """A sink opened, closed or could not open (`detail`: the device or file, or the reason)."""

    sink: str
    state: SinkStateName
    detail: str = ""


@dataclass(frozen=True)
class Stats:
    snapshot: StatsSnapshot


@dataclass(frozen=True)
class Ended:
    """The session's threads have finished: the input ended, an error stopped it, or it was stopped."""

    reason: EndReason
    error: BaseException | None = None


LiveEvent = Notice | SinkState | Stats | Ended


class EventChannel:
    """Thread-safe. `publish` never blocks; `drain` and `wait` take every event in order."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._events: deque[LiveEvent] = deque()
        self._stats: Stats | None = None  # the newest statistics, handed out after the events before it
        self._noticed: set[str] = set()
        self._ended = False

    def publish(self, event: LiveEvent) -> None:
        with self._cond:
            if isinstance(event, Stats):
                self._stats = event
            else:
                if self._stats is not None:  # keep the order: statistics taken before this event go first
                    self._events.append(self._stats)
                    self._stats = None
                self._events.append(event)
                self._ended = self._ended or isinstance(event, Ended)
            self._cond.notify_all()

    def notice_once(self, text: str, fetch: tuple[str, ...] | None = None) -> None:
        """Post a notice unless the same text was posted before in this session."""
        with self._cond:
            if text in self._noticed:
                return
            self._noticed.add(text)
        self.publish(Notice(text, fetch))

    def drain(self) -> list[LiveEvent]:
        with self._cond:
            return self._take()

    def wait(self, timeout: float | None = None) -> list[LiveEvent]:
        """The events posted so far, waiting up to `timeout` seconds for one if there is none yet."""
        with self._cond:
            self._cond.wait_for(lambda: bool(self._events) or self._stats is not None, timeout)
            return self._take()

    @property
    def ended(self) -> bool:
        """An Ended event was posted (it may not have been drained yet)."""
        with self._cond:
            return self._ended

    def _take(self) -> list[LiveEvent]:
        out = list(self._events)
        self._events.clear()
        if self._stats is not None:
            out.append(self._stats)
            self._stats = None
        return out
