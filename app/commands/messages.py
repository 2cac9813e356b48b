"""How the command line words an error: the engine says what is wrong, this adds the command that fixes it."""

from __future__ import annotations

from app.errors import DLCError, ModelError

DOWNLOAD_COMMAND = "deep-live-cam models download"


def download_command(names: tuple[str, ...] = ()) -> str:
    return " ".join((DOWNLOAD_COMMAND, *names))


def explain(exc: DLCError) -> str:
    """The message printed after `error:`."""
    text = str(exc)
    if isinstance(exc, ModelError) and exc.fetch is not None:
        text += f"\nto fetch it: run `{download_command(exc.fetch)}`"
    return text
