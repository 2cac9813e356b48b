"""Options shared by several sub-commands, and their translation into engine objects."""

from __future__ import annotations

import argparse
from pathlib import Path

from app.core.providers import parse_provider_list
from app.core.sessions import ModelSet
from app.core.types import RestoreOptions, SwapOptions
from app.models.paths import resolve_models_dir


def add_engine_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("models")
    group.add_argument("--models-dir", metavar="DIR",
                       help="model folder (default: $DLC_MODELS_DIR, ./models of a checkout, or the user data folder)")
    group.add_argument("--providers", metavar="LIST",
                       help="onnxruntime providers in order, e.g. cuda,cpu (default: the best present)")


def add_swap_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("swap")
    group.add_argument("--faces", choices=("all", "largest"), default="all", help="which target faces to replace")
    group.add_argument("--blend", type=float, default=0.8, metavar="F",
                       help="how much of the swapped face is blended in, 0.0-1.0 (default 0.8)")
    group.add_argument("--no-color-correction", dest="color_correction", action="store_false",
                       help="do not match the swapped face's colour to the target")
    group.add_argument("--face-scale", type=float, default=1.0, metavar="F",
                       help="scale of the swapped face about its centre, 0.5-2.0 (default 1.0)")
    group.add_argument("--det-size", type=int, default=640, metavar="PX", help="face detection size (default 640)")
    group.add_argument("--restore", action="store_true", help="restore each swapped face with GFPGAN v1.4")
    group.add_argument("--restore-strength", type=float, default=0.5, metavar="F",
                       help="how much of the restored face replaces the swapped one, 0.0-1.0 (default 0.5)")


def swap_options_from_args(args: argparse.Namespace) -> SwapOptions:
    restore = RestoreOptions(strength=args.restore_strength) if args.restore else None
    return SwapOptions(
        faces=args.faces,
        blend=args.blend,
        color_correction=args.color_correction,
        face_scale=args.face_scale,
        det_size=args.det_size,
        restore=restore,
    )


def model_set_from_args(args: argparse.Namespace) -> ModelSet:
    return ModelSet(models_dir_from_args(args), parse_provider_list(args.providers))


def models_dir_from_args(args: argparse.Namespace) -> Path:
    return resolve_models_dir(getattr(args, "models_dir", None))
