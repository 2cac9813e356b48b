"""`deep-live-cam live --source FACE.jpg`: swap the webcam live, to a preview window, a virtual camera and/or
a recording. Headless with --no-preview (statistics printed once a second)."""

from __future__ import annotations

import argparse
import logging
import os
import platform
import sys
import time
from pathlib import Path

from app.commands.common import add_engine_options, add_option_arguments, model_set_from_args
from app.commands.messages import note_text
from app.commands.sources import add_map_option, cast, prepare_identity
from app.core.engine import Engine
from app.core.options import LIVE_FORM
from app.live.capture import CaptureSettings, OpenCVSource, parse_camera_spec
from app.live.events import Ended, Notice, Stats
from app.live.runtime import LiveSession
from app.live.sinks import CallbackSink, RecorderSink, Sink, VirtualCameraSink

log = logging.getLogger(__name__)


def add_parser(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser("live", help="swap the webcam live (preview, virtual camera, recording)",
                              description="Swap the face from --source onto the webcam, live.")
    p.add_argument("--source", required=True, action="append", metavar="PHOTO",
                   help="photo (or folder) with the face to use; repeat for more photos of the same person, which "
                        "make one identity")
    add_map_option(p)
    p.add_argument("--camera", default="0", help="camera index, video file or stream URL (default 0)")
    p.add_argument("--width", type=int, help="width to ask of the camera")
    p.add_argument("--height", type=int, help="height to ask of the camera")
    p.add_argument("--fps", type=float, help="frame rate to ask of the camera")
    p.add_argument("--mirror", action="store_true", help="mirror the picture, like a selfie view")
    p.add_argument("--virtual-camera", action="store_true", help="send the output to a virtual camera")
    p.add_argument("--record", metavar="OUT.mp4", help="record the output to an MP4 file")
    p.add_argument("--no-preview", dest="preview", action="store_false", help="headless: no window")
    p.add_argument("--duration", type=float, metavar="SECONDS", help="stop after this many seconds")
    add_option_arguments(p, LIVE_FORM)  # the swap options plus how live renders (--render, --until-swapped)
    add_engine_options(p)
    p.set_defaults(func=run)


def has_display() -> bool:
    """A window can be shown: any desktop OS, an X or Wayland display, or an explicit Qt platform (e.g.
    QT_QPA_PLATFORM=offscreen in tests)."""
    if platform.system() != "Linux":
        return True
    return any(os.environ.get(v) for v in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"))


def run(args: argparse.Namespace) -> int:
    options = LIVE_FORM.build(vars(args))
    engine = Engine(model_set_from_args(args))
    engine.check_models(options)
    face_source = cast(engine, prepare_identity(engine, args.source, options), args.maps, options)
    if options.restore is not None:
        print("preparing face restoration (the first time, a .pth is converted to ONNX)...", flush=True)
        engine.prepare_restorer()  # loaded here, never on the live worker

    preview = args.preview
    if preview and not has_display():
        print("no display for a preview window: running headless (use --no-preview to say so)", file=sys.stderr)
        preview = False
    window = None
    sinks: list[Sink] = []
    if preview:
        from app.gui.preview_window import open_preview_window

        window = open_preview_window(f"Deep Live Cam \u2014 {Path(args.source[0]).name} on {args.camera}")
        sinks.append(CallbackSink(window.deliver))
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
    try:
        if window is not None:
            from app.gui.preview_window import run_preview

            log.info("preview ended: %s", run_preview(session, window, args.duration, _warn_notice))
        else:
            _run_headless(session, args.duration)
    except KeyboardInterrupt:
        print("stopping", file=sys.stderr)
    finally:
        session.stop()
        if window is not None:
            window.close()
    if session.error is not None:
        raise session.error
    snapshot = session.stats()
    print(f"done: {snapshot.frames_output} frames out; {snapshot.format()}")
    if args.record:
        print(f"recorded to {args.record}")
    return 0


def _warn_notice(notice: Notice) -> None:
    print(f"warning: {note_text(notice.text, notice.fetch)}", file=sys.stderr, flush=True)


def _run_headless(session: LiveSession, duration: float | None) -> None:
    """Until the source ends, the duration passes or Ctrl+C: the session's notices as warnings, its statistics
    once a second."""
    started = time.monotonic()
    next_stats = started
    while True:
        for event in session.events.wait(0.1):
            if isinstance(event, Notice):
                _warn_notice(event)
            elif isinstance(event, Stats) and time.monotonic() >= next_stats:
                print(event.snapshot.format(), flush=True)
                next_stats = time.monotonic() + 1.0
            elif isinstance(event, Ended):
                return
        if duration is not None and time.monotonic() - started >= duration:
            return
