"""Where live frames go: a preview callback, a virtual camera (pyvirtualcam), an MP4 recording."""

from __future__ import annotations

import logging
import os
import platform
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import cv2
import numpy as np

from app.core.types import Frame
from app.errors import DLCError, OutputError

log = logging.getLogger(__name__)

Size = tuple[int, int]  # width, height


class SinkUnavailable(DLCError):
    """A sink cannot open (e.g. no virtual camera installed). The session goes on without it."""


class Sink(Protocol):
    name: str

    def open(self, size: Size, fps: float) -> None:
        """Prepare for frames of `size` (width, height) at about `fps`.

        Raises SinkUnavailable (the session goes on without it) or OutputError."""
        ...

    def send(self, frame: Frame) -> None: ...

    def close(self) -> None: ...


def _fit(frame: Frame, size: Size) -> Frame:
    if (frame.shape[1], frame.shape[0]) == size:
        return frame
    return np.ascontiguousarray(cv2.resize(frame, size, interpolation=cv2.INTER_AREA), dtype=np.uint8)


class CallbackSink:
    """Hands every frame (BGR) to a function, e.g. a preview. The function must not keep the thread long."""

    def __init__(self, callback: Callable[[Frame], None], name: str = "preview") -> None:
        self.name = name
        self._callback = callback

    def open(self, size: Size, fps: float) -> None:
        pass

    def send(self, frame: Frame) -> None:
        self._callback(frame)

    def close(self) -> None:
        pass


def virtual_camera_help() -> str:
    """What to install for a virtual camera on this OS."""
    system = platform.system()
    if system == "Windows":
        return "install OBS Studio (its Virtual Camera) or Unity Capture"
    if system == "Darwin":
        return "install OBS Studio and start its Virtual Camera once, so macOS registers it"
    return (
        "install v4l2loopback and load it: `sudo apt install v4l2loopback-dkms` then "
        "`sudo modprobe v4l2loopback devices=1 exclusive_caps=1 card_label='Deep Live Cam'`"
    )


class VirtualCameraSink:
    """Sends RGB frames to a virtual camera that Zoom, Meet, Teams or OBS can pick."""

    def __init__(self, device: str | None = None, backend: str | None = None) -> None:
        self.name = "virtual camera"
        self._device = device
        self._backend = backend
        self._camera: Any = None
        self._size: Size = (0, 0)

    @property
    def device(self) -> str | None:
        return None if self._camera is None else str(self._camera.device)

    def open(self, size: Size, fps: float) -> None:
        import pyvirtualcam  # an optional dependency at run time: imported where needed

        width, height = size
        try:
            self._camera = pyvirtualcam.Camera(
                width,
                height,
                fps,
                fmt=pyvirtualcam.PixelFormat.RGB,
                device=self._device,
                backend=self._backend,
            )
        except Exception as exc:  # pyvirtualcam raises RuntimeError/KeyError with each backend's reason
            reason = str(exc).strip().replace("\n", "; ") or type(exc).__name__
            raise SinkUnavailable(f"no virtual camera available ({reason}); {virtual_camera_help()}") from exc
        self._size = size
        log.info("virtual camera %s open at %dx%d, %.0f fps", self._camera.device, width, height, fps)

    def send(self, frame: Frame) -> None:
        if self._camera is None:
            return
        rgb = cv2.cvtColor(_fit(frame, self._size), cv2.COLOR_BGR2RGB)
        self._camera.send(rgb)

    def close(self) -> None:
        if self._camera is not None:
            self._camera.close()
            self._camera = None


class RecorderSink:
    """Writes an MP4 (mp4v), finalised on close.

    The frames go to `<stem>.part<suffix>` in the same folder, renamed to `path` once the writer has closed
    the file, so a crash never leaves a broken file under the final name (a recording with no frame leaves
    nothing). The live output comes at the worker's rate, not the camera's, so with `realtime` a frame is
    written as many times as needed to keep the recording's clock equal to the wall clock."""

    def __init__(self, path: str | Path, realtime: bool = True) -> None:
        self.name = "recorder"
        self.path = Path(path)
        self.realtime = realtime
        self._writer: cv2.VideoWriter | None = None
        self._size: Size = (0, 0)
        self._fps = 30.0
        self._start = 0.0
        self.frames_written = 0

    @staticmethod
    def part_path(path: Path) -> Path:
        """Where a recording to `path` is written until it is finalised (the suffix kept: it picks the
        container)."""
        return path.with_name(f"{path.stem}.part{path.suffix}")

    @property
    def part(self) -> Path:
        return self.part_path(self.path)

    def open(self, size: Size, fps: float) -> None:
        if self.path.parent and not self.path.parent.is_dir():
            raise OutputError(f"cannot record to {self.path}: folder {self.path.parent} does not exist")
        self._fps = fps if 0 < fps < 1000 else 30.0
        writer = cv2.VideoWriter(str(self.part), cv2.VideoWriter.fourcc(*"mp4v"), self._fps, size)
        if not writer.isOpened():
            self.part.unlink(missing_ok=True)
            raise OutputError(f"cannot record to {self.path}: the video writer did not open")
        self._writer = writer
        self._size = size
        self._start = time.perf_counter()
        self.frames_written = 0

    def send(self, frame: Frame) -> None:
        if self._writer is None:
            return
        frame = _fit(frame, self._size)
        copies = 1
        if self.realtime:
            due = int((time.perf_counter() - self._start) * self._fps) + 1
            copies = max(1, due - self.frames_written)
        for _ in range(copies):
            self._writer.write(frame)
        self.frames_written += copies

    def close(self) -> None:
        if self._writer is None:
            return
        self._writer.release()
        self._writer = None
        if self.frames_written == 0:
            self.part.unlink(missing_ok=True)
            log.info("nothing recorded; %s not written", self.path)
            return
        try:
            os.replace(self.part, self.path)
        except OSError as exc:
            raise OutputError(f"cannot finish the recording {self.path}: {exc} (the frames are in {self.part})") \
                from exc
        log.info("recorded %d frames to %s", self.frames_written, self.path)
