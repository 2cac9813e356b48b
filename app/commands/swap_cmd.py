"""`deep-live-cam swap SOURCE TARGET -o OUT`: put the face from SOURCE onto the faces in TARGET."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from app.commands.common import add_engine_options, add_swap_options, model_set_from_args, swap_options_from_args
from app.core.engine import Engine
from app.core.errors import NoFaceError, OutputError
from app.core.image_io import WRITE_FORMATS, read_image, write_image

log = logging.getLogger(__name__)


def add_parser(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser("swap", help="swap a face onto the faces of a photo",
                              description="Put the face from SOURCE onto the faces in TARGET and write OUT.")
    p.add_argument("source", help="photo with the face to use")
    p.add_argument("target", help="photo whose faces are replaced")
    p.add_argument("-o", "--output", required=True, help="output image (.png, .jpg, .webp)")
    add_swap_options(p)
    add_engine_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    options = swap_options_from_args(args)
    output = Path(args.output)
    if output.suffix.lower() not in WRITE_FORMATS:
        raise OutputError(f"unsupported output format {output.suffix!r}; use one of .png, .jpg, .webp")
    source_image = read_image(args.source)
    target_image = read_image(args.target)
    engine = Engine(model_set_from_args(args))
    engine.check_models(options)
    source = engine.prepare_source(source_image, options)
    result = engine.process(target_image, source, options)
    if not result.faces:
        raise NoFaceError(f"no face found in the target image {args.target}")
    write_image(output, result.frame)
    timings = ", ".join(f"{k} {v:.0f} ms" for k, v in result.timings.items() if v)
    print(f"swapped {len(result.faces)} face(s) -> {output} ({timings})")
    return 0
