"""Background threads yield the CPU to the ones the picture waits for.

The live session's detector and swapper threads run models that take hundreds of ms to seconds a call on a CPU,
while the capture, worker and output threads need a few ms of CPU every camera frame. On a CPU with few cores
the models would take those few ms away at equal priority (measured with the faithful models on 2 cores: the
worker's tracking went from 10 to about 30 ms a frame and frames were dropped). On Linux each thread has its
own nice value, so the model threads are lowered: they get all the CPU the camera's threads leave. (A model's
own worker threads, made when its session was created, keep the priority of the thread that loaded it; the
calling thread does a share of every run, so lowering it is most of the gain.) Elsewhere nothing changes.
"""

from __future__ import annotations

import logging
import os
import sys
import threading

log = logging.getLogger(__name__)

BACKGROUND_NICENESS = 5  # a third of a normal thread's weight: the camera threads win, other programs do not starve it


def lower_this_thread(steps: int = BACKGROUND_NICENESS) -> bool:
    """Raise the calling thread's nice value by `steps` (at most 19); True when it was changed."""
    if sys.platform != "linux":
        return False
    tid = threading.get_native_id()
    try:
        current = os.getpriority(os.PRIO_PROCESS, tid)
        os.setpriority(os.PRIO_PROCESS, tid, min(19, current + steps))
    except OSError as exc:  # a sandbox may refuse it: the session runs as before
        log.debug("could not lower %s's priority: %s", threading.current_thread().name, exc)
        return False
    return True
