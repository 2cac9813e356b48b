"""`deep-live-cam`: one entry point with sub-commands (`python -m app` is the same)."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from app import __version__
from app.errors import EXIT_INTERRUPTED, DLCError

log = logging.getLogger("app")


def _command_modules() -> list[object]:
    from app.commands import gui_cmd, live_cmd, models_cmd, restore_cmd, serve_cmd, swap_cmd

    return [gui_cmd, swap_cmd, restore_cmd, live_cmd, serve_cmd, models_cmd]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="deep-live-cam", description="Real-time face swap for webcams and photos.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log more")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in _command_modules():
        module.add_parser(subparsers)  # type: ignore[attr-defined]
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        if not getattr(args, "func", None):  # no command: the desktop app
            from app.commands import gui_cmd

            return gui_cmd.run(args)
        return int(args.func(args))
    except DLCError as exc:
        from app.commands.messages import explain

        print(f"error: {explain(exc)}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
