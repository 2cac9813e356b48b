"""Videos in the Photos tab: which dropped files are videos, where a result goes, and one video job run by
app/media's `process_video` as a long job (on a thread of its own, never one of the short-call pool), its
progress handed to the UI thread and its cancel flag set from it. No frame is touched here: the engine and the
video pipeline do the work."""

from __future__ import annotations

import asyncio
import os
import shutil
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from app.core.engine import Engine
from app.core.options import SwapOptions
from app.core.processor import FrameProcessor
from app.core.tracker import Tracker
from app.core.types import Frame
from app.gui.source_panel import IMAGE_SUFFIXES
from app.gui.tasks import TaskRunner
from app.media import VIDEO_SUFFIXES, Progress, VideoReport, process_video
from app.media.formats import CONTAINERS

# The common ones first: they are what the file dialog shows; the rest FFmpeg reads too.
COMMON_VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".avi", ".webm")
GUI_VIDEO_SUFFIXES = COMMON_VIDEO_SUFFIXES + tuple(sorted(VIDEO_SUFFIXES - set(COMMON_VIDEO_SUFFIXES)))
MEDIA_SUFFIXES = frozenset(IMAGE_SUFFIXES) | frozenset(VIDEO_SUFFIXES)  # what the Photos tab takes


def is_video_path(path: Path) -> bool:
    return path.suffix.lower() in VIDEO_SUFFIXES


def open_dialog_filter() -> str:
    images = " ".join(f"*{s}" for s in IMAGE_SUFFIXES)
    videos = " ".join(f"*{s}" for s in GUI_VIDEO_SUFFIXES)
    return f"Photos and videos ({images} {videos});;Photos ({images});;Videos ({videos});;All files (*)"


def video_output_name(path: Path) -> str:
    """`<name>_swapped` in the input's container when a video can be written as one, else .mp4."""
    suffix = path.suffix.lower()
    return f"{path.stem}_swapped{suffix if suffix in CONTAINERS else '.mp4'}"


def copy_video(source: Path, target: Path) -> Path:
    """Copy a finished video under a temp name first, so no half-copied file ever has the target's name."""
    part = target.with_name(f".{target.name}.part")
    try:
        shutil.copyfile(source, part)
        os.replace(part, target)
    finally:
        part.unlink(missing_ok=True)
    return target


def format_eta(seconds: float | None) -> str:
    if seconds is None:
        return "estimating time left\u2026"
    s = max(0, round(seconds))
    h, rest = divmod(s, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d} left" if h else f"{m}:{s:02d} left"


class VideoJob:
    """One video through the engine. `run()` is awaited on the UI thread; the work runs on a thread of its own, and
    `on_progress` / `on_preview` are always called on the UI thread (latest progress only, never queued up)."""

    def __init__(self, path: Path, output: Path, on_progress: Callable[[Progress], None],
                 on_preview: Callable[[Frame, Frame], None]) -> None:
        self.path = path
        self.output = output
        self.cancel_event = threading.Event()
        self._on_progress = on_progress
        self._on_preview = on_preview
        self._latest: Progress | None = None
        self._pending = False
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self.frames_with_faces = 0

    def cancel(self) -> None:
        self.cancel_event.set()

    @property
    def cancelled(self) -> bool:
        return self.cancel_event.is_set()

    async def run(self, tasks: TaskRunner, engine: Engine, source: Any, options: SwapOptions) -> VideoReport:
        """`source`: a SourceFace, or a FaceMap (each person recognised once per track)."""
        self._loop = asyncio.get_running_loop()
        try:
            report = await tasks.run_long(self._work, engine, source, options, cancel=self.cancel)
        finally:
            self._deliver()  # the last progress, even if its scheduled hand-off has not run yet
        return report

    # -- on the job's thread -------------------------------------------------------------------------------
    def _work(self, engine: Engine, source: Any, options: SwapOptions) -> VideoReport:
        engine.check_models(options)
        processor = FrameProcessor(engine, Tracker())
        swap = processor.video_frames(source, options)
        first = True

        def process(frame: Frame, seconds: float) -> Frame:
            nonlocal first
            out = swap(frame, seconds)
            if first:  # the first frame before and after: the comparison view, at no extra decode
                first = False
                self._call_soon(self._on_preview, frame.copy(), out.copy())
            return out

        report = process_video(self.path, self.output, process, progress=self._progress, cancel=self.cancel_event)
        self.frames_with_faces = processor.frames_with_faces
        return report

    def _progress(self, p: Progress) -> None:
        with self._lock:
            self._latest = p
            if self._pending:
                return
            self._pending = True
        self._call_soon(self._deliver)

    def _call_soon(self, fn: Callable[..., None], *args: object) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(fn, *args)

    # -- on the UI thread ---------------------------------------------------------------------------------
    def _deliver(self) -> None:
        with self._lock:
            p, self._latest, self._pending = self._latest, None, False
        if p is not None:
            self._on_progress(p)
