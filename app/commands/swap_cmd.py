"""`deep-live-cam swap SOURCE TARGET -o OUT`: put the face from SOURCE onto the faces in TARGET.

TARGET is a photo, or a video (by its suffix, or when OUT is a video): then every frame is swapped, with
faces tracked from frame to frame, and the frame rate, size and audio are kept."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from app.commands import scale
from app.commands.common import add_engine_options, add_swap_options, model_set_from_args, swap_options_from_args
from app.commands.messages import note_text
from app.commands.sources import add_map_option, cast, prepare_identity
from app.core.engine import Engine, Note
from app.core.image_io import WRITE_FORMATS, read_image, write_image
from app.core.options import SwapOptions
from app.core.processor import FrameProcessor
from app.errors import EXIT_INTERRUPTED, NoFaceError, OutputError

log = logging.getLogger(__name__)


def add_parser(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser("swap", help="swap a face onto the faces of a photo or a video",
                              description="Put the face from SOURCE onto the faces in TARGET and write OUT.")
    p.add_argument("source", help="photo with the face to use, or a folder of photos of that person")
    p.add_argument("--source", dest="more_sources", action="append", default=[], metavar="PHOTO",
                   help="another photo (or folder) of the same person; several photos make one identity, each "
                        "scored for size, sharpness, pose and likeness")
    add_map_option(p)
    p.add_argument("target", help="photo or video whose faces are replaced")
    p.add_argument("-o", "--output", required=True,
                   help="output image (.png, .jpg, .webp) or video (.mp4, .mov, .mkv, .webm, .avi)")
    add_swap_options(p)
    video = p.add_argument_group("video (when TARGET is a video)")
    video.add_argument("--video-codec", metavar="NAME",
                       help="video encoder: libx264 (the default for .mp4/.mov/.mkv/.avi), libx265, mpeg4, "
                            "libvpx-vp9 (the default for .webm), hw (a hardware H.264 encoder if one works here) "
                            "or any FFmpeg encoder name")
    video.add_argument("--video-quality", type=int, metavar="CRF",
                       help="constant quality (CRF), lower is better: 0-51 for x264/x265 (default 18), "
                            "0-63 for VP9/AV1")
    video.add_argument("--video-preset", metavar="NAME",
                       help="encoder speed against size: ultrafast ... medium (default) ... veryslow")
    video.add_argument("--no-audio", dest="audio", action="store_const", const="none", default="auto",
                       help="drop the audio (by default it is copied, or re-encoded when OUT cannot hold it)")
    add_engine_options(p)
    scale.add_swap_options(p)
    p.set_defaults(func=run)


def is_video_job(target: str, output: str) -> bool:
    """A video target (by its suffix), or a video output: then the target must be a video too."""
    from app.media import VIDEO_SUFFIXES
    from app.media.formats import CONTAINERS

    return Path(target).suffix.lower() in VIDEO_SUFFIXES or Path(output).suffix.lower() in CONTAINERS


def run(args: argparse.Namespace) -> int:
    options = swap_options_from_args(args)
    video = is_video_job(args.target, args.output)
    scale.check_swap_args(args, video)
    if video:
        return scale.run_swap(args, options) if args.ray else run_video(args, options)
    output = Path(args.output)
    if output.suffix.lower() not in WRITE_FORMATS:
        raise OutputError(f"unsupported output format {output.suffix!r}; use one of .png, .jpg, .webp")
    target_image = read_image(args.target)
    engine = Engine(model_set_from_args(args))
    engine.check_models(options)
    source = cast(engine, prepare_identity(engine, [args.source, *args.more_sources], options), args.maps, options)
    result = FrameProcessor(engine).process(target_image, source, options)
    if not result.faces:
        raise NoFaceError(f"no face found in the target image {args.target}")
    _warn_notes(result.notes)
    write_image(output, result.frame)
    timings = ", ".join(f"{k} {v:.0f} ms" for k, v in result.timings.items() if v and k != "total")
    print(f"swapped {len(result.faces)} face(s) -> {output} ({timings})")
    return 0


def run_video(args: argparse.Namespace, options: SwapOptions) -> int:
    from app.commands.video_output import print_summary, progress_bar
    from app.core.tracker import Tracker
    from app.media import EncoderSettings, probe, process_video
    from app.media.formats import container_for

    output = Path(args.output)
    container_for(output)  # OutputError for a suffix no video can be written as, before any work
    settings = EncoderSettings(codec=args.video_codec, quality=args.video_quality, preset=args.video_preset)
    info = probe(args.target)
    engine = Engine(model_set_from_args(args))
    engine.check_models(options)
    source = cast(engine, prepare_identity(engine, [args.source, *args.more_sources], options), args.maps, options)
    processor = FrameProcessor(engine, Tracker())  # faces followed from frame to frame: steady, same person
    on_progress, close_bar = progress_bar(info)
    try:
        report = process_video(args.target, output, processor.video_frames(source, options), settings,
                               audio=args.audio, progress=on_progress)
    except KeyboardInterrupt:
        close_bar()
        print(f"cancelled; {output} was not written", file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        close_bar()
    _warn_notes(processor.notes)
    print_summary(report, info, args.target, output, processor.frames_with_faces)
    return 0


def _warn_notes(notes: Sequence[Note]) -> None:
    for note in notes:
        print(f"warning: {note_text(note.text, note.fetch)}", file=sys.stderr)
