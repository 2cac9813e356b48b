"""`deep-live-cam gui`: the desktop window (also what `deep-live-cam` with no command opens)."""

from __future__ import annotations

import argparse

from app.commands.common import add_engine_options, models_dir_from_args
from app.core.providers import parse_provider_list


def add_parser(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser("gui", help="open the desktop window (the default)",
                              description="Open the Deep Live Cam window.")
    add_gui_options(p)
    add_engine_options(p)
    p.set_defaults(func=run)


def add_gui_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--camera", metavar="X", help="camera index, video file or stream URL to use")
    p.add_argument("--source", metavar="IMG", help="photo of the face to put on others")
    p.add_argument("--live", action="store_true", help="start the live session at once")
    p.add_argument("--exit-after", type=float, metavar="S", help=argparse.SUPPRESS)  # scripts and smoke tests


def run(args: argparse.Namespace) -> int:
    """Open the window; `args` may come from another parser (no command given): missing options take defaults."""
    from app.gui.app import GuiLaunch, run_gui

    providers = getattr(args, "providers", None)
    launch = GuiLaunch(
        models_dir=models_dir_from_args(args),
        providers=parse_provider_list(providers) if providers else None,
        camera=getattr(args, "camera", None),
        source=getattr(args, "source", None),
        live=bool(getattr(args, "live", False)),
        exit_after_s=getattr(args, "exit_after", None),
    )
    return run_gui(launch)
