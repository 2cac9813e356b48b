"""One-Euro filter (Casiez, Roussel, Vogel 2012) over a set of points, vectorised over every coordinate.

A low-pass filter whose cutoff rises with speed: a still face is smoothed hard (no jitter), a moving face
lightly (little lag). Time-based, so it behaves the same at 30 fps from a camera and at 2 fps from a slow
worker.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class OneEuroParams:
    min_cutoff: float = 1.0  # Hz: the cutoff of a still signal; lower = less jitter, more lag when slow
    beta: float = 0.05  # how fast the cutoff rises with speed (per unit/s); higher = less lag when fast
    d_cutoff: float = 1.0  # Hz: the cutoff of the speed estimate


def _alpha(cutoff: FloatArray | float, dt: float) -> FloatArray:
    tau = 1.0 / (2.0 * math.pi * np.asarray(cutoff, dtype=np.float64))
    return np.asarray(1.0 / (1.0 + tau / dt), dtype=np.float64)


class OneEuroFilter:
    """Filters arrays of one fixed shape (e.g. five points, (5, 2)), each coordinate on its own."""

    def __init__(self, params: OneEuroParams | None = None) -> None:
        self.params = params or OneEuroParams()
        self._x: FloatArray | None = None
        self._dx: FloatArray | None = None
        self._t: float | None = None

    def reset(self) -> None:
        self._x = self._dx = None
        self._t = None

    def move_state(self, move: Callable[[FloatArray], FloatArray]) -> None:
        """Carry the filter's state along a known motion (e.g. optical flow), so that motion is followed at
        once and only what the motion does not explain (detection noise) is smoothed."""
        if self._x is not None:
            self._x = np.asarray(move(self._x), dtype=np.float64)

    def __call__(self, x: npt.ArrayLike, t: float) -> FloatArray:
        """Filter the value `x` observed at time `t` (seconds); returns the smoothed value."""
        value = np.asarray(x, dtype=np.float64)
        if self._x is None or self._dx is None or self._t is None or value.shape != self._x.shape:
            self._x, self._dx, self._t = value.copy(), np.zeros_like(value), t
            return value.copy()
        dt = t - self._t
        if dt <= 0:
            # Same timestamp (or a clock step back): nothing to learn about speed; keep the estimate.
            return self._x.copy()
        p = self.params
        dx = (value - self._x) / dt
        self._dx = self._dx + _alpha(p.d_cutoff, dt) * (dx - self._dx)
        cutoff = p.min_cutoff + p.beta * np.abs(self._dx)
        self._x = self._x + _alpha(cutoff, dt) * (value - self._x)
        self._t = t
        return self._x.copy()
