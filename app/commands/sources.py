"""Who goes where, from the command line: the source photos (several photos or a folder make one identity,
each photo scored) and the people mapped to a source of their own (`--map TARGET=SOURCE`)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from app.core.engine import Engine, SourceFace
from app.core.face_map import FaceMap, MappedPerson, person_from_photo
from app.core.identity import source_from_images
from app.core.image_io import WRITE_FORMATS, read_image
from app.core.options import SwapOptions
from app.errors import InputError, OptionError

PHOTO_SUFFIXES = frozenset({*WRITE_FORMATS, ".bmp", ".tif", ".tiff"})


def add_map_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--map", dest="maps", action="append", default=[], metavar="TARGET=SOURCE",
                        help="give the person in photo TARGET the face in photo SOURCE (repeat for more people); "
                             "the others follow --faces and --others")


def photo_paths(items: Sequence[str]) -> list[Path]:
    """The photos named, a folder standing for the photos in it (sorted by name)."""
    paths: list[Path] = []
    for item in items:
        path = Path(item)
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in PHOTO_SUFFIXES)
            if not found:
                raise InputError(f"the folder {path} holds no photo ({', '.join(sorted(PHOTO_SUFFIXES))})")
            paths += found
        else:
            paths.append(path)
    return paths


def prepare_identity(engine: Engine, items: Sequence[str], options: SwapOptions) -> SourceFace:
    """The source identity of the photos `items` (files or folders). With several, each photo's quality is
    printed and the flagged ones are named."""
    paths = photo_paths(items)
    source, identity = source_from_images(engine, [(p.name, read_image(p)) for p in paths], options)
    if identity is not None:
        print(f"source: one identity from {len(identity.included)} of {len(paths)} photos", file=sys.stderr)
        for line in identity.report_lines():
            print(f"  {line}", file=sys.stderr)
    return source


def parse_maps(items: Sequence[str]) -> list[tuple[Path, Path]]:
    pairs = []
    for item in items:
        target, sep, source = item.partition("=")
        if not sep or not target or not source:
            raise OptionError(f"--map takes TARGET_PHOTO=SOURCE_PHOTO, got {item!r}")
        pairs.append((Path(target), Path(source)))
    return pairs


def cast(engine: Engine, default: SourceFace, maps: Sequence[str], options: SwapOptions) -> Any:
    """What the frame processor takes as its source: the default source alone, or a map of people."""
    if not maps:
        return default
    people: list[MappedPerson[SourceFace]] = []
    for target, source_photo in parse_maps(maps):
        source = engine.prepare_source(read_image(source_photo), options)
        people.append(person_from_photo(target.name, read_image(target), lambda f: engine.detect(f, options),
                                        lambda f, face: _embedding(engine, f, face), source))
    names = [p.name for p in people]
    if len(set(names)) != len(names):
        raise OptionError("each --map TARGET photo must have a name of its own")
    return FaceMap(tuple(people), default=default)


def _embedding(engine: Engine, frame: Any, face: Any) -> Any:
    return engine.embed(frame, face).embedding
