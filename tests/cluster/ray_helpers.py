"""Processor factories for the Ray video tests. They live in a module of their own because Ray workers
unpickle them by import (the test modules themselves are not meant to be imported twice)."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.media.pipeline import FrameFunction
from app.media.swap_job import SwapJob


@dataclass(frozen=True)
class SlowSwapJob(SwapJob):
    """The real swap, `delay_s` slower per frame, leaving `<pids>/<chunk start>-<pid>` behind as each chunk
    starts, so a test can find (and kill) the worker process running a chunk."""

    pids: Path = Path(".")
    delay_s: float = 0.1

    def processor(self, engine: Any) -> FrameFunction:
        inner = super().processor(engine)
        delay, pids = self.delay_s, self.pids
        first = True

        def slow(frame: Any, seconds: float) -> Any:
            nonlocal first
            if first:
                (pids / f"{seconds:.3f}-{os.getpid()}").touch()
                first = False
            time.sleep(delay)
            return inner(frame, seconds)

        return slow
