"""`deep-live-cam gui`: the desktop window (also what `deep-live-cam` with no command opens)."""

from __future__ import annotations

import argparse
import os
import platform
import sys
from collections.abc import Mapping

from app.commands.common import add_engine_options, engine_options_from_args, models_dir_from_args
from app.core.options import EngineOptions
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


NO_DISPLAY = (
    "deep-live-cam: no display to open the window on (none of DISPLAY, WAYLAND_DISPLAY, QT_QPA_PLATFORM is set).\n"
    "Without one, use `deep-live-cam swap` (photos and videos), `deep-live-cam live --no-preview` (a virtual "
    "camera) or `deep-live-cam serve` (the REST API), or set DISPLAY."
)
DISPLAY_VARIABLES = ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")


def has_display(environ: Mapping[str, str] | None = None, system: str | None = None) -> bool:
    """False on Linux (and other X11/Wayland systems) when Qt would find no display; Windows and macOS always
    have one."""
    env = os.environ if environ is None else environ
    system = system or platform.system()
    if system in ("Windows", "Darwin"):
        return True
    return any(env.get(name) for name in DISPLAY_VARIABLES)


def run(args: argparse.Namespace) -> int:
    """Open the window; `args` may come from another parser (no command given): missing options take defaults."""
    if not has_display():
        # Qt itself would abort the process (SIGABRT, exit 134) with a message about platform plugins.
        print(NO_DISPLAY, file=sys.stderr)
        return 2
    from app.gui.app import GuiLaunch, run_gui

    providers = getattr(args, "providers", None)
    launch = GuiLaunch(
        models_dir=models_dir_from_args(args),
        providers=parse_provider_list(providers) if providers else None,
        engine=_engine_asked(args),
        camera=getattr(args, "camera", None),
        source=getattr(args, "source", None),
        live=bool(getattr(args, "live", False)),
        exit_after_s=getattr(args, "exit_after", None),
    )
    return run_gui(launch)


def _engine_asked(args: argparse.Namespace) -> EngineOptions | None:
    """The backend and precision given on the command line, if any (else the window's own setting holds)."""
    asked = engine_options_from_args(args)
    return asked if asked != EngineOptions() else None
