"""One model call at a time on a thread beside the live worker: the detector's (app/live/async_detect.py) and
the fluid render's swapper (app/live/fluid.py).

The request box holds one request: a newer one replaces one not yet started (the newest frame wins). The answer
waits in a one-slot result that the worker polls; a failed call is answered with its error, which the worker
raises. The thread runs below the camera's threads' priority (app/live/priority.py) and may keep to a duty
cycle (`duty`): after a call of d ms it is busy for another d * (1 / duty - 1) ms, so on a CPU the other model
gets the rest. A call in progress cannot be interrupted: stop() waits for it up to its timeout.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Generic, TypeVar

from app.live.latest import LatestBox, Stamped
from app.live.priority import lower_this_thread

Request = TypeVar("Request")
Answer = TypeVar("Answer")


class BackgroundCalls(Generic[Request, Answer]):
    """A thread with a one-slot request box and a one-slot answer. Subclasses say what a call is (`_call`) and
    what answers it (`_answer`). start(), then stop()."""

    def __init__(self, name: str, box: str, duty: float = 1.0) -> None:
        if not 0.0 < duty <= 1.0:
            raise ValueError(f"a duty cycle is in (0, 1], got {duty}")
        self.duty = duty
        self._rest_until = 0.0  # no new request is taken before then (perf_counter seconds)
        self._requests: LatestBox[Request] = LatestBox(box)
        self._lock = threading.Lock()
        self._answer_waiting: Answer | None = None
        self._outstanding = False  # a request submitted and not yet answered
        self._stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, name=name, daemon=True)
        self.calls = 0
        self.call_ms = 0.0

    # -- what a subclass defines -------------------------------------------------------------------------

    def _call(self, request: Request) -> Any:
        """The model call (on this thread); it may raise."""
        raise NotImplementedError

    def _answer(self, item: Stamped[Request], outcome: Any, error: BaseException | None, ms: float) -> Answer:
        """The answer to `item`: the call's outcome, or its error (outcome None), after `ms` milliseconds."""
        raise NotImplementedError

    # -- the worker's side -------------------------------------------------------------------------------

    @property
    def busy(self) -> bool:
        """A request is waiting or running, or the thread rests after one (its duty cycle)."""
        with self._lock:
            return self._outstanding or time.perf_counter() < self._rest_until

    def _put(self, request: Request, captured_at: float, seq: int) -> None:
        """Ask for `request`; returns at once. Replaces a request not yet started; ignored once stopped."""
        with self._lock:
            self._outstanding = not self._requests.closed
            self._requests.put(Stamped(request, captured_at, seq))

    def poll(self) -> Answer | None:
        with self._lock:
            answer, self._answer_waiting = self._answer_waiting, None
            return answer

    # -- lifetime ----------------------------------------------------------------------------------------

    def start(self) -> None:
        self.thread.start()

    def stop(self, timeout: float = 2.0) -> bool:
        """Refuse further requests and wait (up to `timeout` s) for the thread; True when it ended. A call in
        progress is finished first, so the bound must exceed one call."""
        self._stopping.set()
        self._requests.close()
        if self.thread.ident is not None:
            self.thread.join(max(0.0, timeout))
        return not self.thread.is_alive()

    # -- the thread --------------------------------------------------------------------------------------

    def _run(self) -> None:
        lower_this_thread()  # the camera's threads come first
        while not self._stopping.is_set():
            item = self._requests.get(timeout=0.1)
            if item is None:
                if self._requests.closed:
                    break
                continue
            t0 = time.perf_counter()
            outcome: Any = None
            error: BaseException | None = None
            try:
                outcome = self._call(item.value)
            except BaseException as exc:  # handed to the worker, which fails the session with it
                error = exc
            ms = (time.perf_counter() - t0) * 1000.0
            answer = self._answer(item, outcome, error, ms)
            with self._lock:
                self._answer_waiting = answer
                self._outstanding = self._requests.peek_waiting() > 0
                self._rest_until = time.perf_counter() + ms / 1000.0 * (1.0 / self.duty - 1.0)
                self.calls += 1
                self.call_ms += ms
            if error is not None and not isinstance(error, Exception):
                break  # KeyboardInterrupt, SystemExit: this thread ends too
