"""Options shared by several sub-commands, and their translation into engine objects."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from app.core.options import ENGINE_FORM, SWAP_FORM, EngineOptions, Form, SwapOptions
from app.core.providers import parse_provider_list
from app.core.sessions import ModelSet
from app.models.paths import resolve_models_dir


def add_engine_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("models")
    group.add_argument("--models-dir", metavar="DIR",
                       help="model folder (default: $DLC_MODELS_DIR, ./models of a checkout, or the user data folder)")
    group.add_argument("--providers", metavar="LIST",
                       help="onnxruntime providers in order, e.g. cuda,cpu (default: the best present)")
    add_option_arguments(parser, ENGINE_FORM, "how the models run")


def _shown(value: object) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def add_option_arguments(parser: argparse.ArgumentParser, form: Form[Any], title: str = "swap") -> None:
    """One flag per field of `form` (app/core/options.py), named, typed and explained by its declaration.
    Values are checked when the options are built (OptionError, exit 2), like every other front end's."""
    group = parser.add_argument_group(title)
    for f in form:
        spec = f.spec
        if f.kind == "bool":
            action = "store_false" if f.default else "store_true"
            group.add_argument(f.cli_flag, dest=f.key, action=action, default=f.default,
                               help=f"turn off: {spec.help}" if f.default else spec.help)
            continue
        if f.kind == "choice":
            group.add_argument(f.cli_flag, dest=f.key, choices=[v for v, _ in spec.choices], default=f.default,
                               help=f"{spec.help} (default {f.default})")
            continue
        group.add_argument(f.cli_flag, dest=f.key, type=int if f.kind == "int" else float, default=f.default,
                           metavar="N" if f.kind == "int" else "F", help=f"{spec.help} (default {_shown(f.default)})")


def add_swap_options(parser: argparse.ArgumentParser) -> None:
    add_option_arguments(parser, SWAP_FORM)


def swap_options_from_args(args: argparse.Namespace) -> SwapOptions:
    return SWAP_FORM.build(vars(args))


def engine_options_from_args(args: argparse.Namespace) -> EngineOptions:
    return ENGINE_FORM.build(vars(args))


def model_set_from_args(args: argparse.Namespace) -> ModelSet:
    return ModelSet(models_dir_from_args(args), parse_provider_list(args.providers), engine_options_from_args(args))


def models_dir_from_args(args: argparse.Namespace) -> Path:
    return resolve_models_dir(getattr(args, "models_dir", None))
