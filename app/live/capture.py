"""Frame sources (a camera, a video file or a stream through cv2.VideoCapture; a synthetic camera) and the
capture thread that reads one as fast as it delivers into a latest box."""

from __future__ import annotations

import logging
import platform
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

import cv2
import numpy as np

from app.core.types import Frame
from app.errors import CameraError
from app.live.latest import LatestBox, Stamped

log = logging.getLogger(__name__)

SourceKind = Literal["index", "file", "url"]


@dataclass(frozen=True)
class CameraSpec:
    kind: SourceKind
    value: int | str

    def describe(self) -> str:
        return {"index": "camera", "file": "video file", "url": "stream"}[self.kind] + f" {self.value}"


def parse_camera_spec(spec: str | int) -> CameraSpec:
    """`0` -> camera index 0; `rtsp://...` / `http://...` -> a stream; anything else -> a video file."""
    if isinstance(spec, int):
        return CameraSpec("index", spec)
    text = spec.strip()
    if text.isdigit():
        return CameraSpec("index", int(text))
    if "://" in text:
        return CameraSpec("url", text)
    return CameraSpec("file", text)


@dataclass(frozen=True)
class CaptureSettings:
    """What the user asks of the camera; what it really delivers is in CaptureInfo."""

    width: int | None = None
    height: int | None = None
    fps: float | None = None
    mirror: bool = False


@dataclass(frozen=True)
class CaptureInfo:
    description: str
    width: int
    height: int
    fps: float  # the source's nominal rate (a file's own rate; what the camera reports)
    is_file: bool  # a file ends; a camera or stream does not


class FrameSource(Protocol):
    """A camera-like source: read() blocks until the next frame, like a camera does."""

    def open(self) -> CaptureInfo: ...

    def read(self) -> Frame | None:
        """The next frame; None at the end of a file. Raises CameraError when a camera stops delivering."""
        ...

    def close(self) -> None: ...


def _camera_help() -> str:
    system = platform.system()
    if system == "Linux":
        return "list cameras with `v4l2-ctl --list-devices` (or `ls /dev/video*`)"
    if system == "Darwin":
        return "check System Settings > Privacy & Security > Camera, and try index 0 or 1"
    return "check that no other application uses it, and try index 0 or 1"


class OpenCVSource:
    """cv2.VideoCapture over a camera index, a video file or a stream URL.

    A file is read at its own frame rate (read() sleeps to pace it), so it behaves like a webcam."""

    def __init__(
        self, spec: CameraSpec | str | int, settings: CaptureSettings | None = None, max_failures: int = 30
    ) -> None:
        self.spec = spec if isinstance(spec, CameraSpec) else parse_camera_spec(spec)
        self.settings = settings or CaptureSettings()
        self._max_failures = max_failures  # consecutive failed reads before a camera counts as gone
        self._cap: cv2.VideoCapture | None = None
        self._interval = 0.0
        self._next_due = 0.0
        self.info: CaptureInfo | None = None

    def open(self) -> CaptureInfo:
        spec, s = self.spec, self.settings
        if spec.kind == "file" and not Path(str(spec.value)).is_file():
            raise CameraError(f"video file {spec.value} not found (use --camera INDEX for a webcam)")
        cap = cv2.VideoCapture(spec.value) if spec.kind == "index" else cv2.VideoCapture(str(spec.value))
        if not cap.isOpened():
            cap.release()
            if spec.kind == "index":
                raise CameraError(
                    f"camera {spec.value} could not be opened: no such device, or another application is "
                    f"using it; {_camera_help()}"
                )
            raise CameraError(f"{spec.describe()} could not be opened: not a video OpenCV can read")
        if spec.kind != "file":
            if s.width:
                cap.set(cv2.CAP_PROP_FRAME_WIDTH, s.width)
            if s.height:
                cap.set(cv2.CAP_PROP_FRAME_HEIGHT, s.height)
            if s.fps:
                cap.set(cv2.CAP_PROP_FPS, s.fps)
        width = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH))
        height = int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        fps = float(cap.get(cv2.CAP_PROP_FPS))
        if not (0 < fps < 1000):
            fps = s.fps or 30.0
        self._cap = cap
        self._interval = 1.0 / fps if spec.kind == "file" else 0.0
        self._next_due = time.perf_counter()
        self.info = CaptureInfo(spec.describe(), width, height, fps, spec.kind == "file")
        requested = (s.width, s.height, s.fps)
        if spec.kind != "file" and any(requested) and (width, height, fps) != requested:
            log.info(
                "%s delivers %dx%d at %.1f fps (asked for %s)",
                spec.describe(),
                width,
                height,
                fps,
                "x".join(str(v) for v in requested if v),
            )
        return self.info

    def read(self) -> Frame | None:
        cap = self._cap
        if cap is None:
            raise CameraError(f"{self.spec.describe()} is not open")
        if self._interval:
            delay = self._next_due - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            # Behind by more than a frame (a stalled reader): restart the schedule rather than race ahead.
            self._next_due = max(self._next_due + self._interval, time.perf_counter() - self._interval)
        failures = 0
        while True:
            ok, frame = cap.read()
            if ok and frame is not None:
                break
            if self.spec.kind == "file":
                return None
            failures += 1
            if failures >= self._max_failures:
                raise CameraError(f"{self.spec.describe()} stopped delivering frames (unplugged or in use?)")
            time.sleep(0.01)
        if self.settings.mirror:
            frame = cv2.flip(frame, 1, dst=frame)  # in place: the frame is fresh from read(), and that spares a copy
        return np.ascontiguousarray(frame, dtype=np.uint8)

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None


class SyntheticCamera:
    """A camera that delivers generated frames at a fixed rate (read() blocks until the next one is due).

    For benchmarks and tests: `frames` None means endless; a number ends the run like a file."""

    def __init__(
        self,
        width: int = 640,
        height: int = 360,
        fps: float = 30.0,
        frames: int | None = None,
        make: Callable[[int], Frame] | None = None,
    ) -> None:
        self.width, self.height, self.fps = width, height, fps
        self._frames = frames
        self._make = make
        self._count = 0
        self._start = 0.0
        self._canvas = np.zeros((height, width, 3), np.uint8)

    def open(self) -> CaptureInfo:
        self._start = time.perf_counter()
        self._count = 0
        return CaptureInfo(
            f"synthetic {self.width}x{self.height}@{self.fps:g}",
            self.width,
            self.height,
            self.fps,
            self._frames is not None,
        )

    def read(self) -> Frame | None:
        if self._frames is not None and self._count >= self._frames:
            return None
        due = self._start + self._count / self.fps
        delay = due - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        i = self._count
        self._count += 1
        if self._make is not None:
            return self._make(i)
        frame = self._canvas.copy()
        frame[:, : (i * 7) % self.width + 1] = i % 256  # moving content, so frames differ
        return frame

    def close(self) -> None:
        pass


class CaptureThread:
    """Reads a source as fast as it delivers and puts every frame into a latest box."""

    def __init__(
        self,
        source: FrameSource,
        box: LatestBox[Frame],
        on_frame: Callable[[float], None] | None = None,
        on_end: Callable[[BaseException | None], None] | None = None,
    ) -> None:
        self.source = source
        self.box = box
        self._on_frame = on_frame
        self._on_end = on_end
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="dlc-capture", daemon=True)
        self.seq = 0  # frames delivered so far
        self.last_frame_at = 0.0

    def start(self) -> None:
        self.last_frame_at = time.perf_counter()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def join(self, timeout: float) -> bool:
        self._thread.join(timeout)
        return not self._thread.is_alive()

    @property
    def thread(self) -> threading.Thread:
        return self._thread

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def _run(self) -> None:
        error: BaseException | None = None
        try:
            while not self._stop.is_set():
                frame = self.source.read()
                if frame is None:
                    log.info(
                        "end of %s after %d frames", getattr(self.source, "info", None) or "source", self.seq
                    )
                    break
                now = time.perf_counter()
                self.last_frame_at = now
                self.seq += 1
                self.box.put(Stamped(frame, now, self.seq))
                if self._on_frame is not None:
                    self._on_frame(now)
        except Exception as exc:  # a camera error (or a bug) must reach the session, not kill silently
            error = exc
        finally:
            self.box.close()
            try:
                self.source.close()
            except Exception:
                log.exception("closing the capture source failed")
            if self._on_end is not None:
                self._on_end(error)
