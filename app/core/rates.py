"""Events per second over a sliding window: the live statistics' camera and output rates, a video job's
progress and ETA."""

from __future__ import annotations

from collections import deque


class RateMeter:
    """Events per second over a sliding time window. The last two events are kept longer than the window
    (up to `horizon_s`), so a slow loop (a frame every few seconds on a CPU) reads as, say, 0.2 fps, not 0."""

    def __init__(self, window_s: float, horizon_s: float = 60.0) -> None:
        self._window = window_s
        self._horizon = horizon_s
        self._times: deque[float] = deque()

    def tick(self, t: float) -> None:
        self._times.append(t)
        self._trim(t)

    def rate(self, now: float) -> float:
        self._trim(now)
        if len(self._times) < 2:
            return 0.0
        span = max(now - self._times[0], self._times[-1] - self._times[0])
        return (len(self._times) - 1) / span if span > 0 else 0.0

    def _trim(self, now: float) -> None:
        while self._times and now - self._times[0] > self._window and (
            len(self._times) > 2 or now - self._times[0] > self._horizon
        ):
            self._times.popleft()
