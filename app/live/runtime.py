"""The live session: capture thread -> latest box -> inference worker -> latest box -> output thread -> sinks.

Everything the session has to say (notices, sink states, statistics, its end) goes through its one event
channel (app/live/events.py), which the front end drains.

Each hand-off holds one frame at most, so a slow worker drops frames (counted) and never builds up delay.
Scheduled face detection runs on a detector thread beside the worker (app/live/async_detect.py), so no
output frame waits for it; the tracker brings each late result forward to the frame it is on.
The swap model may run beside the worker too (app/live/fluid.py), when the options' render is fluid (or auto
picks it: a swap slower than half the camera's rate): then every camera frame is rendered with each person's
most recent swap (app/core/fluid.py) and the output keeps the camera's rate.
The worker reads the current settings and source face by reference between frames; set_options() and
set_source() swap in whole new objects, so no frame is processed with half-changed settings.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from app.core.options import SwapOptions
from app.core.processor import FaceEngine, FrameProcessor, Person
from app.core.tracker import Tracker
from app.core.types import Frame
from app.errors import CameraError, DLCError
from app.live.async_detect import AsyncDetector
from app.live.capture import CaptureInfo, CaptureThread, FrameSource
from app.live.events import Ended, EndReason, EventChannel, SinkState, Stats
from app.live.fluid import AsyncSwapper
from app.live.latest import LatestBox, Stamped
from app.live.sinks import Sink, SinkUnavailable
from app.live.stats import LiveStats, StatsSnapshot

log = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class SeenPeople:
    frame: Frame  # the camera frame they were found in, before the swap
    people: tuple[Person, ...]
    seq: int  # the frame's number


class LiveSession:
    """One run of the live loop. start(), then stop() (or wait for `done`: end of a file, or an error)."""

    def __init__(
        self,
        engine: FaceEngine,
        source: FrameSource,
        options: SwapOptions | None = None,
        face_source: Any = None,
        sinks: Sequence[Sink] = (),
        tracker: Tracker | None = None,
        stats: LiveStats | None = None,
        stall_timeout_s: float = 5.0,
        join_timeout_s: float = 2.0,
        async_detection: bool = True,
        events: EventChannel | None = None,
        stats_interval_s: float = 0.25,
    ) -> None:
        """`async_detection`: scheduled detection on a thread beside the worker (False: inside it).
        `events`: the channel to post to (sinks made for this session may post to it too); a new one if None.
        `stats_interval_s`: how often statistics are posted."""
        self.engine = engine
        self.source = source
        self._options = options or SwapOptions()
        self._face_source = face_source
        self._sinks: list[Sink] = list(sinks)
        self.tracker = tracker or Tracker()
        self.stats_collector = stats or LiveStats()
        self.stall_timeout_s = stall_timeout_s
        self.join_timeout_s = join_timeout_s
        self.events = events or EventChannel()
        self.stats_interval_s = stats_interval_s
        self._stats_due = 0.0
        self.done = threading.Event()
        self._error: BaseException | None = None
        self._ended = False  # Ended was posted (guarded by _lock)
        self._seen: SeenPeople | None = None
        self.info: CaptureInfo | None = None
        self.max_behind = 0  # the most frames that had arrived after the one the worker took (<= 1)
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._frames: LatestBox[Frame] = LatestBox("capture->worker", lambda: self._drop("capture->worker"))
        self._results: LatestBox[Frame] = LatestBox("worker->output", lambda: self._drop("worker->output"))
        self._capture: CaptureThread | None = None
        self._worker = threading.Thread(target=self._work, name="dlc-worker", daemon=True)
        self._output = threading.Thread(target=self._deliver, name="dlc-output", daemon=True)
        self._detector = AsyncDetector("dlc-detector") if async_detection else None
        self._swapper = AsyncSwapper("dlc-swapper")
        # The live worker never loads (or converts) the restorer itself: that can take minutes.
        self.processor = FrameProcessor(engine, self.tracker, self._detector, wait_for_restorer=False,
                                        swapper=self._swapper)
        self._sinks_open = False

    # -- control, from any thread ------------------------------------------------------------------------

    @property
    def options(self) -> SwapOptions:
        return self._options

    def set_options(self, options: SwapOptions) -> None:
        """Takes effect from the next frame the worker starts."""
        self._options = options

    @property
    def face_source(self) -> Any:
        """What the worker swaps in from its next frame (see set_source)."""
        return self._face_source

    def set_source(self, face_source: Any) -> None:
        """A prepared source face (Engine.prepare_source), a FaceMap of people and their sources, or None to pass
        the camera through unswapped."""
        self._face_source = face_source

    def start(self) -> CaptureInfo:
        """Open the source (CameraError if it cannot) and the sinks, then start the threads."""
        self.info = self.source.open()
        if self.processor.fluid is not None and self.info.fps > 0:
            self.processor.fluid.camera_fps = self.info.fps  # what render="auto" compares the swap with
        if self.info.width > 0 and self.info.height > 0:
            try:
                self._open_sinks((self.info.width, self.info.height))
            except BaseException:
                self.source.close()
                raise
        self._capture = CaptureThread(
            self.source,
            self._frames,
            on_frame=self._on_capture,
            on_end=self._capture_ended,
        )
        self._capture.start()
        if self._detector is not None:
            self._detector.start()
        self._swapper.start()
        self._worker.start()
        self._output.start()
        log.info(
            "live session started: %s, %dx%d at %.1f fps",
            self.info.description,
            self.info.width,
            self.info.height,
            self.info.fps,
        )
        return self.info

    def stop(self, timeout: float | None = None) -> bool:
        """Stop every thread and close the sinks (recordings are finalised); True when all joined in time, but for
        a swap still in the model on the swapper's thread (a model run cannot be interrupted: on a CPU it takes
        seconds), which ends by itself and whose answer is dropped."""
        bound = self.join_timeout_s if timeout is None else timeout
        self._stopping.set()
        if self._capture is not None:
            self._capture.stop()
        self._frames.close()
        self._results.close()
        deadline = time.perf_counter() + bound
        joined = True
        if self._detector is not None:
            self._detector.stop(0.0)  # refuse requests now; joined below with the others
        self._swapper.stop(0.0)
        for thread in self.threads():
            if thread.is_alive() or thread.ident is not None:
                thread.join(max(0.0, deadline - time.perf_counter()))
                if thread.is_alive() and thread is self._swapper.thread:
                    log.info("the swap in progress ends by itself; its answer is dropped")
                elif thread.is_alive():
                    joined = False
                    log.warning("%s did not stop within %.1f s", thread.name, bound)
        if not self._output.is_alive():
            self._close_sinks()  # the output thread closes them itself, unless it never started
        self._end()
        return joined

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the run to end by itself (end of file, error); True when it has."""
        return self.done.wait(timeout)

    def people(self) -> SeenPeople | None:
        """The faces of the newest processed camera frame (as captured, before the swap), with their tracks and
        whom they were recognised as: what a front end needs to let the user pick a person."""
        return self._seen

    @property
    def error(self) -> BaseException | None:
        """What stopped the session, once it has stopped by itself (also told by its Ended event)."""
        with self._lock:
            return self._error

    def stats(self) -> StatsSnapshot:
        return self.stats_collector.snapshot()

    def threads(self) -> list[threading.Thread]:
        capture = [self._capture.thread] if self._capture is not None else []
        detector = [self._detector.thread] if self._detector is not None else []
        return capture + [self._worker, self._output] + detector + [self._swapper.thread]

    def __enter__(self) -> LiveSession:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- internals -----------------------------------------------------------------------------------------

    def _drop(self, where: str) -> None:
        self.stats_collector.record_drop(where)

    def _on_capture(self, t: float) -> None:
        self.stats_collector.record_capture(t)
        self._post_stats(t)

    def _post_stats(self, now: float) -> None:
        """Statistics every `stats_interval_s`, from whichever thread gets here first (a frame from the camera, or
        one out of the worker: a slow worker must not slow the statistics down)."""
        with self._lock:
            if now < self._stats_due:
                return
            self._stats_due = now + self.stats_interval_s
        self.events.publish(Stats(self.stats_collector.snapshot(now)))

    def _fail(self, error: BaseException) -> None:
        with self._lock:
            if self._error is None:
                self._error = error
        if isinstance(error, DLCError):
            log.error("%s", error)
        else:
            log.error("live session failed", exc_info=error)
        self._frames.close()
        self._results.close()

    def _capture_ended(self, error: BaseException | None) -> None:
        if error is not None and not self._stopping.is_set():
            self._fail(error)

    def _check_stall(self) -> None:
        capture = self._capture
        if capture is None or not capture.alive or self._stopping.is_set():
            return
        silent = time.perf_counter() - capture.last_frame_at
        if silent > self.stall_timeout_s:
            self._fail(
                CameraError(
                    f"{self.info.description if self.info else 'the camera'} stopped delivering frames "
                    f"(nothing for {silent:.0f} s)"
                )
            )

    def _work(self) -> None:
        try:
            while not self._stopping.is_set():
                item = self._frames.get(timeout=0.1)
                if item is None:
                    if self._frames.drained:
                        break
                    self._check_stall()
                    continue
                if self._capture is not None:
                    self.max_behind = max(self.max_behind, self._capture.seq - item.seq)
                options, face_source = self._options, self._face_source
                out, timings = self._process(item, options, face_source)
                self.stats_collector.record_timings(timings)
                self._results.put(Stamped(out, item.captured_at, item.seq))
        except BaseException as exc:
            self._fail(exc)
        finally:
            self._results.close()
            if self._detector is not None:
                self._detector.stop(0.0)  # no more requests; stop() joins the thread
            self._swapper.stop(0.0)

    def _process(self, item: Stamped[Frame], options: SwapOptions, face_source: Any) -> tuple[Frame, dict[str, float]]:
        result = self.processor.process(item.value, face_source, options, item.captured_at)
        self._seen = SeenPeople(item.value, result.people, item.seq)  # one reference: written here only
        self.stats_collector.record_render(result.render)
        for note in result.notes:
            self.events.notice_once(note.text, note.fetch)
        return result.frame, result.timings

    def _open_sinks(self, size: tuple[int, int]) -> None:
        fps = self.info.fps if self.info is not None else 30.0
        usable: list[Sink] = []
        for sink in self._sinks:
            try:
                sink.open(size, fps)
            except SinkUnavailable as exc:
                log.warning("%s: %s; going on without it", sink.name, exc)
                self.events.publish(SinkState(sink.name, "unavailable", str(exc)))
                self.events.notice_once(str(exc))
                continue
            except BaseException:
                for opened in usable:
                    opened.close()
                raise
            usable.append(sink)
        self._sinks = usable
        self._sinks_open = True

    def _close_sinks(self) -> None:
        sinks, self._sinks = self._sinks, []
        for sink in sinks:
            try:
                sink.close()
            except Exception:
                log.exception("closing %s failed", sink.name)

    def _deliver(self) -> None:
        try:
            while True:
                item = self._results.get(timeout=0.1)
                if item is None:
                    if self._results.drained:
                        break
                    continue
                if not self._sinks_open:
                    self._open_sinks((item.value.shape[1], item.value.shape[0]))
                for sink in list(self._sinks):
                    try:
                        sink.send(item.value)
                    except Exception as exc:
                        message = f"{sink.name} failed ({exc}); going on without it"
                        log.warning("%s", message)
                        self.events.publish(SinkState(sink.name, "unavailable", message))
                        self.events.notice_once(message)
                        self._sinks.remove(sink)
                        try:
                            sink.close()
                        except Exception:
                            log.exception("closing %s failed", sink.name)
                self.stats_collector.record_output(item.captured_at)
                self._post_stats(time.perf_counter())
        except BaseException as exc:
            self._fail(exc)
        finally:
            self._close_sinks()
            self._end()

    def _end(self) -> None:
        """Said once, by the output thread as it finishes (or by stop() when it never started)."""
        with self._lock:
            if self._ended:
                return
            self._ended = True
            error = self._error
            reason: EndReason = "error" if error is not None else "stopped" if self._stopping.is_set() else \
                "end of input"
        self.events.publish(Stats(self.stats_collector.snapshot()))
        self.events.publish(Ended(reason, error))
        self.done.set()  # after the events: whoever waited for it finds them posted
