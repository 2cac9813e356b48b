"""A one-slot "latest" box: the hand-off between the live threads.

Modelled on GStreamer's leaky one-buffer queue: a producer never waits, a new item replaces an unread one
(a drop, counted), and a consumer always takes the newest item. So at no hand-off does more than one item
wait, and a slow consumer means dropped frames, never a growing delay.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Stamped(Generic[T]):
    """An item with its frame's capture time (time.perf_counter) and sequence number."""

    value: T
    captured_at: float
    seq: int


class LatestBox(Generic[T]):
    """Holds at most one item. put() never blocks; get() waits for an item and takes it."""

    def __init__(self, name: str = "box", on_drop: Callable[[], None] | None = None) -> None:
        self.name = name
        self._on_drop = on_drop
        self._cond = threading.Condition()
        self._item: Stamped[T] | None = None
        self._closed = False
        self._puts = 0
        self._takes = 0
        self._drops = 0

    def put(self, item: Stamped[T]) -> bool:
        """Offer an item; returns True when it replaced an unread one (a drop). Ignored once closed."""
        with self._cond:
            if self._closed:
                return False
            dropped = self._item is not None
            self._item = item
            self._puts += 1
            if dropped:
                self._drops += 1
            self._cond.notify_all()
        if dropped and self._on_drop is not None:
            self._on_drop()
        return dropped

    def get(self, timeout: float | None = None) -> Stamped[T] | None:
        """Wait up to `timeout` seconds for an item and take it; None on timeout or when closed and empty.

        An item put before close() is still handed out, so the last frame of a file is not lost."""
        with self._cond:
            if self._item is None and not self._closed:
                self._cond.wait_for(lambda: self._item is not None or self._closed, timeout)
            item = self._item
            self._item = None
            if item is not None:
                self._takes += 1
            return item

    def peek_waiting(self) -> int:
        """How many items wait now: 0 or 1 by construction."""
        with self._cond:
            return 0 if self._item is None else 1

    def close(self) -> None:
        """Refuse further items and wake every waiter."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    @property
    def closed(self) -> bool:
        with self._cond:
            return self._closed

    @property
    def drained(self) -> bool:
        """Closed and nothing left to take."""
        with self._cond:
            return self._closed and self._item is None

    @property
    def drops(self) -> int:
        with self._cond:
            return self._drops

    @property
    def puts(self) -> int:
        with self._cond:
            return self._puts

    @property
    def takes(self) -> int:
        with self._cond:
            return self._takes
