"""`deep-live-cam restore IMAGE -o OUT`: restore every face of a photo with GFPGAN v1.4."""

from __future__ import annotations

import argparse
from pathlib import Path

from app.commands.common import add_engine_options, model_set_from_args
from app.core.engine import Engine
from app.core.image_io import WRITE_FORMATS, read_image, write_image
from app.core.restore import check_restorer_present
from app.core.types import RestoreOptions, SwapOptions
from app.errors import NoFaceError, OutputError
from app.models import manifest


def add_parser(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser("restore", help="restore the faces of a photo (GFPGAN v1.4)",
                              description="Restore every face in IMAGE and write OUT.")
    p.add_argument("image", help="photo to restore")
    p.add_argument("-o", "--output", required=True, help="output image (.png, .jpg, .webp)")
    p.add_argument("--strength", type=float, default=0.5, metavar="F",
                   help="how much of the restored face replaces the original, 0.0-1.0 (default 0.5)")
    p.add_argument("--denoise", type=float, default=0.3, metavar="F", help="noise removal, 0.0-1.0 (default 0.3)")
    p.add_argument("--sharpen", type=float, default=0.2, metavar="F", help="sharpening, 0.0-1.0 (default 0.2)")
    p.add_argument("--no-enhance-details", dest="enhance_details", action="store_false",
                   help="skip local-contrast detail enhancement")
    p.add_argument("--faces", choices=("all", "largest"), default="all", help="which faces to restore")
    p.add_argument("--det-size", type=int, default=640, metavar="PX", help="face detection size (default 640)")
    add_engine_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    restore = RestoreOptions(strength=args.strength, denoise=args.denoise, sharpen=args.sharpen,
                             enhance_details=args.enhance_details)
    options = SwapOptions(faces=args.faces, det_size=args.det_size)
    output = Path(args.output)
    if output.suffix.lower() not in WRITE_FORMATS:
        raise OutputError(f"unsupported output format {output.suffix!r}; use one of .png, .jpg, .webp")
    image = read_image(args.image)
    models = model_set_from_args(args)
    models.require([manifest.DETECTOR])
    check_restorer_present(models.models_dir)
    result = Engine(models).restore(image, options, restore)
    if not result.faces:
        raise NoFaceError(f"no face found in {args.image}")
    write_image(output, result.frame)
    print(f"restored {len(result.faces)} face(s) -> {output} ({result.timings['restore']:.0f} ms)")
    return 0

