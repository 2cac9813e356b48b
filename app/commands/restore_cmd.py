"""`deep-live-cam restore IMAGE -o OUT`: restore every face of a photo with GFPGAN v1.4."""

from __future__ import annotations

import argparse
from pathlib import Path

from app.commands.common import add_engine_options, add_option_arguments, model_set_from_args
from app.core.engine import Engine
from app.core.image_io import WRITE_FORMATS, read_image, write_image
from app.core.options import RESTORE_FORM
from app.core.processor import FrameProcessor
from app.errors import NoFaceError, OutputError


def add_parser(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser("restore", help="restore the faces of a photo (GFPGAN v1.4)",
                              description="Restore every face in IMAGE and write OUT.")
    p.add_argument("image", help="photo to restore")
    p.add_argument("-o", "--output", required=True, help="output image (.png, .jpg, .webp)")
    add_option_arguments(p, RESTORE_FORM, "restore")
    add_engine_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    options = RESTORE_FORM.build(vars(args))
    output = Path(args.output)
    if output.suffix.lower() not in WRITE_FORMATS:
        raise OutputError(f"unsupported output format {output.suffix!r}; use one of .png, .jpg, .webp")
    image = read_image(args.image)
    engine = Engine(model_set_from_args(args))
    engine.check_models(options, swapping=False)
    result = FrameProcessor(engine, restore_only=True).process(image, None, options)
    if not result.faces:
        raise NoFaceError(f"no face found in {args.image}")
    write_image(output, result.frame)
    print(f"restored {len(result.faces)} face(s) -> {output} ({result.timings['restore']:.0f} ms)")
    return 0
