"""What the tracker needs of a detector that answers later (the live session's detector thread,
app/live/async_detect.py): a request with the frame's sequence number, and a result that names it, so the
tracker can bring a late answer forward to the frame it is on."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from app.core.types import Face, Frame

Detector = Callable[[Frame], list[Face]]


@dataclass(frozen=True)
class DetectionResult:
    """The faces found on frame `seq` (captured at `timestamp`), or the error detection raised."""

    faces: list[Face]
    seq: int
    timestamp: float
    ms: float  # how long the detection took, on the detector thread
    error: BaseException | None = None


class BackgroundDetector(Protocol):
    """A detector that answers later, beside the caller."""

    @property
    def busy(self) -> bool:
        """A request waits or is being detected."""
        ...

    def submit(self, frame: Frame, seq: int, timestamp: float, detect: Detector) -> None: ...

    def poll(self) -> DetectionResult | None:
        """The newest finished result, taken; None when there is none. Never waits."""
        ...
