"""`deep-live-cam live --source FACE.jpg`: swap the webcam live, to a preview window, a virtual camera and/or
a recording. Headless with --no-preview (statistics printed once a second)."""

from __future__ import annotations

import argparse
import logging
import os
import platform
import sys
import threading
import time

from app.commands.common import add_engine_options, add_swap_options, model_set_from_args, swap_options_from_args
from app.core.engine import Engine
from app.core.image_io import read_image
from app.core.types import Frame
from app.live.capture import CaptureSettings, OpenCVSource, parse_camera_spec
from app.live.runtime import LiveSession
from app.live.sinks import CallbackSink, RecorderSink, Sink, VirtualCameraSink

log = logging.getLogger(__name__)
WINDOW = "Deep Live Cam (q or Esc to stop)"


def add_parser(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser("live", help="swap the webcam live (preview, virtual camera, recording)",
                              description="Swap the face from --source onto the webcam, live.")
    p.add_argument("--source", required=True, help="photo with the face to use")
    p.add_argument("--camera", default="0", help="camera index, video file or stream URL (default 0)")
    p.add_argument("--width", type=int, help="width to ask of the camera")
    p.add_argument("--height", type=int, help="height to ask of the camera")
    p.add_argument("--fps", type=float, help="frame rate to ask of the camera")
    p.add_argument("--mirror", action="store_true", help="mirror the picture, like a selfie view")
    p.add_argument("--virtual-camera", action="store_true", help="send the output to a virtual camera")
    p.add_argument("--record", metavar="OUT.mp4", help="record the output to an MP4 file")
    p.add_argument("--no-preview", dest="preview", action="store_false", help="headless: no window")
    p.add_argument("--duration", type=float, metavar="SECONDS", help="stop after this many seconds")
    add_swap_options(p)
    add_engine_options(p)
    p.set_defaults(func=run)


def has_display() -> bool:
    if platform.system() != "Linux":
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


class _LatestPreview:
    """The newest output frame, for the main thread's window (OpenCV windows live on the main thread)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._frame: Frame | None = None

    def put(self, frame: Frame) -> None:
        with self._lock:
            self._frame = frame

    def take(self) -> Frame | None:
        with self._lock:
            frame, self._frame = self._frame, None
            return frame


def run(args: argparse.Namespace) -> int:
    options = swap_options_from_args(args)
    source_image = read_image(args.source)
    engine = Engine(model_set_from_args(args))
    engine.check_models(options)
    face_source = engine.prepare_source(source_image, options)

    preview = args.preview
    if preview and not has_display():
        print("no display for a preview window: running headless (use --no-preview to say so)", file=sys.stderr)
        preview = False
    latest = _LatestPreview()
    sinks: list[Sink] = []
    if preview:
        sinks.append(CallbackSink(latest.put))
    if args.record:
        sinks.append(RecorderSink(args.record))
    if args.virtual_camera:
        sinks.append(VirtualCameraSink())

    capture = OpenCVSource(parse_camera_spec(args.camera),
                           CaptureSettings(width=args.width, height=args.height, fps=args.fps, mirror=args.mirror))
    session = LiveSession(engine, capture, options=options, face_source=face_source, sinks=sinks)
    info = session.start()
    print(f"live: {info.description}, {info.width}x{info.height} at {info.fps:.1f} fps "
          f"({'file' if info.is_file else 'camera'}); Ctrl+C to stop", flush=True)
    for warning in session.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    try:
        _run_until_done(session, latest if preview else None, args.duration)
    except KeyboardInterrupt:
        print("stopping", file=sys.stderr)
    finally:
        session.stop()
        if preview:
            _close_window()
    if session.error is not None:
        raise session.error
    snapshot = session.stats()
    print(f"done: {snapshot.frames_output} frames out; {snapshot.format()}")
    if args.record:
        print(f"recorded to {args.record}")
    return 0


def _run_until_done(session: LiveSession, preview: _LatestPreview | None, duration: float | None) -> None:
    started = time.monotonic()
    next_print = started + 1.0
    while not session.done.is_set():
        now = time.monotonic()
        if duration is not None and now - started >= duration:
            return
        if preview is not None:
            if not _show(preview.take()):
                return
        else:
            session.done.wait(0.05)
            if now >= next_print:
                print(session.stats().format(), flush=True)
                next_print = now + 1.0


def _show(frame: Frame | None) -> bool:
    """Paint the newest frame; False when the user closed the window or pressed q/Esc."""
    import cv2

    if frame is not None:
        cv2.imshow(WINDOW, frame)
    key = cv2.waitKey(10) & 0xFF
    if key in (ord("q"), 27):
        return False
    try:
        return frame is None or cv2.getWindowProperty(WINDOW, cv2.WND_PROP_VISIBLE) >= 1
    except cv2.error:
        return False


def _close_window() -> None:
    import cv2

    try:
        cv2.destroyWindow(WINDOW)
        cv2.waitKey(1)
    except cv2.error:
        pass
