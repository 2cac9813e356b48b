"""A whole video through a per-frame function (app/core/processor.py, FrameProcessor.video_frames): decoder
thread -> bounded queue -> processing (the caller's thread) -> bounded queue -> encoder thread.

Decoding (with the BGR conversion) and encoding (with the YUV conversion) run beside the inference, so
neither idles it, and PyAV releases the GIL while FFmpeg works. Each queue holds a few frames, so memory
stays flat however long the video. Audio rides along in the same queues in stored order, so the writer
interleaves it as the input did.

Cancel (an Event or a callable), an error in any stage, or KeyboardInterrupt stops all three, and the
output name is never touched: the writer's temp file is removed and the original exception is raised
(VideoCancelled for a cancel)."""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import numpy as np

from app.core.rates import RateMeter
from app.core.types import Frame
from app.errors import Cancelled
from app.media.formats import EncoderSettings
from app.media.reader import AudioItem, VideoInfo, VideoItem, VideoReader
from app.media.writer import AudioMode, VideoWriter, plan_audio

log = logging.getLogger(__name__)
T = TypeVar("T")

Cancel = threading.Event | Callable[[], bool] | None


class VideoCancelled(Cancelled):
    """The job was cancelled; nothing was written under the output name."""


# The processed frame (same size, BGR uint8) for a frame shown at a time in seconds.
FrameFunction = Callable[[Frame, float], Frame]


@dataclass(frozen=True)
class Progress:
    done: int  # frames processed
    total: int | None  # frames in the video (an estimate for some containers), None when unknown
    fps: float  # recent processing rate
    elapsed_s: float
    eta_s: float | None


@dataclass(frozen=True)
class VideoReport:
    output: Path
    info: VideoInfo
    frames: int
    seconds: float
    codec: str
    audio_copied: int
    audio_encoded: int
    stage_ms: dict[str, float] = field(default_factory=dict)  # mean ms per frame: decode wait, process, ...

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0


class _End:
    """Marks the end of a stream of items."""


END = _End()
Item = VideoItem | AudioItem | _End


def _is_cancelled(cancel: Cancel) -> bool:
    if cancel is None:
        return False
    if isinstance(cancel, threading.Event):
        return cancel.is_set()
    return bool(cancel())


class _Stages:
    """The two worker threads, the queues between them and the first error any of them hit."""

    def __init__(self, queue_size: int) -> None:
        self.decoded: queue.Queue[Item] = queue.Queue(maxsize=queue_size)
        self.processed: queue.Queue[Item] = queue.Queue(maxsize=queue_size)
        self.stop = threading.Event()
        self.error: BaseException | None = None
        self._lock = threading.Lock()

    def fail(self, exc: BaseException) -> None:
        with self._lock:
            if self.error is None:
                self.error = exc
        self.stop.set()

    def put(self, q: queue.Queue[Item], item: Item) -> bool:
        """False when the job stopped before there was room."""
        while not self.stop.is_set():
            try:
                q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def get(self, q: queue.Queue[Item], on_wait: Callable[[], None] | None = None) -> Item | None:
        """The next item, or None when the job stopped."""
        while not self.stop.is_set():
            try:
                return q.get(timeout=0.1)
            except queue.Empty:
                if on_wait is not None:
                    on_wait()
        return None


def process_video(
    input_path: str | os.PathLike[str],
    output_path: str | os.PathLike[str],
    process: FrameFunction,
    settings: EncoderSettings | None = None,
    audio: AudioMode = "auto",
    progress: Callable[[Progress], None] | None = None,
    cancel: Cancel = None,
    queue_size: int = 4,
) -> VideoReport:
    """Read `input_path`, pass every frame through `process` in order, write `output_path` with the same
    size, frame timestamps and audio. Raises InputError, OutputError, OptionError, VideoCancelled, or
    whatever `process` raised; in every such case nothing is left under `output_path`."""
    settings = settings or EncoderSettings()
    reader = VideoReader(input_path)
    try:
        plan = plan_audio(reader, _container_of(output_path), audio)
        writer = VideoWriter(output_path, reader, settings, plan)
    except BaseException:
        reader.close()
        raise
    stages = _Stages(max(1, queue_size))
    decoder = threading.Thread(target=_decode, args=(reader, stages, plan.encode, plan.copy),
                               name="dlc-video-decode", daemon=True)
    encoder = threading.Thread(target=_encode, args=(writer, stages), name="dlc-video-encode", daemon=True)
    info = reader.info
    t0 = time.perf_counter()
    spent = {"wait_decode": 0.0, "process": 0.0, "wait_encode": 0.0}
    done = 0
    try:
        decoder.start()
        encoder.start()
        rate = RateMeter(window_s=3.0)  # the ETA follows a rate that changes

        def check() -> None:
            if _is_cancelled(cancel):
                raise VideoCancelled(f"cancelled after {done} frames; {writer.output} was not written")

        while True:
            check()
            ta = time.perf_counter()
            item = stages.get(stages.decoded, check)
            tb = time.perf_counter()
            spent["wait_decode"] += tb - ta
            if item is None:
                break  # a stage failed: its error is raised below
            if isinstance(item, VideoItem):
                out = process(item.frame, item.seconds)
                if out.shape != item.frame.shape or out.dtype != np.uint8:
                    raise ValueError(f"the frame processor changed a frame's shape/type to {out.shape} {out.dtype}")
                item = VideoItem(item.index, np.ascontiguousarray(out), item.pts, item.time_base)
            tc = time.perf_counter()
            spent["process"] += tc - tb
            if not stages.put(stages.processed, item):
                break
            spent["wait_encode"] += time.perf_counter() - tc
            if isinstance(item, _End):
                break
            if isinstance(item, VideoItem):
                done += 1
                if progress is not None:
                    now = time.perf_counter()
                    rate.tick(now)
                    fps = rate.rate(now)
                    total = info.frames if info.frames is None else max(info.frames, done)
                    eta = (total - done) / fps if (total is not None and fps > 0) else None
                    progress(Progress(done, total, fps, now - t0, eta))
        while encoder.is_alive():
            check()
            encoder.join(0.1)
        if stages.error is not None:
            raise stages.error
        output = writer.commit()
    except BaseException as exc:
        stages.fail(exc)
        _join(decoder, encoder)
        writer.abort()
        raise
    finally:
        reader.close()
    elapsed = time.perf_counter() - t0
    if progress is not None:
        progress(Progress(done, done, done / elapsed if elapsed > 0 else 0.0, elapsed, 0.0))
    log.info("%s: %d frames in %.1f s (%.1f fps)", output, done, elapsed, done / elapsed if elapsed else 0)
    return VideoReport(
        output=output, info=info, frames=writer.frames, seconds=elapsed, codec=writer.codec,
        audio_copied=len(plan.copy), audio_encoded=len(plan.encode),
        stage_ms={k: v * 1000.0 / max(done, 1) for k, v in spent.items()},
    )


def _container_of(path: str | os.PathLike[str]) -> str:
    from app.media.formats import container_for

    return container_for(Path(path))


def _join(*threads: threading.Thread) -> None:
    for t in threads:
        if t.ident is not None:
            t.join(5.0)
            if t.is_alive():
                log.warning("%s did not stop within 5 s", t.name)


def _decode(reader: VideoReader, stages: _Stages, decode_audio: frozenset[int], copy_audio: frozenset[int]) -> None:
    try:
        for item in reader.items(decode_audio, copy_audio):
            if not stages.put(stages.decoded, item):
                return
        stages.put(stages.decoded, END)
    except BaseException as exc:
        stages.fail(exc)


def _encode(writer: VideoWriter, stages: _Stages) -> None:
    try:
        while True:
            item = stages.get(stages.processed)
            if item is None:
                return
            if isinstance(item, _End):
                break
            if isinstance(item, VideoItem):
                writer.write_frame(item.frame, item.pts)
            else:
                writer.write_audio(item)
        writer.close()
    except BaseException as exc:
        stages.fail(exc)
