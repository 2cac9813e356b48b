"""How the command line words an error: the engine says what is wrong, this adds the command that fixes it."""

from __future__ import annotations

from app.core.int8 import Int8Fix, Int8NotReady
from app.errors import DLCError, ModelError

DOWNLOAD_COMMAND = "deep-live-cam models download"
OPTIMIZE_COMMAND = "deep-live-cam models optimize"


def download_command(names: tuple[str, ...] = ()) -> str:
    return " ".join((DOWNLOAD_COMMAND, *names))


def int8_hint(fix: Int8Fix | None) -> str:
    """What to run for an int8 swapper that cannot be used ('' when nothing is to be done)."""
    if fix == "build":
        return f"to build it: run `{OPTIMIZE_COMMAND}`"
    if fix == "calibrate":
        return f"to calibrate it on your own photos: run `{OPTIMIZE_COMMAND} --source PHOTO ...`"
    if fix == "fetch":
        return f"to fetch the model: run `{download_command(('inswapper',))}`"
    return ""


def note_text(text: str, fetch: tuple[str, ...] | None) -> str:
    """A warning the engine gave while the job went on, with the command that would help."""
    return f"{text}; to fetch it: run `{download_command(fetch)}`" if fetch is not None else text


def explain(exc: DLCError) -> str:
    """The message printed after `error:`."""
    text = str(exc)
    if isinstance(exc, Int8NotReady) and exc.fix in ("build", "calibrate"):
        text += f"\n{int8_hint(exc.fix)}"
    elif isinstance(exc, ModelError) and exc.fetch is not None:
        text += f"\nto fetch it: run `{download_command(exc.fetch)}`"
    return text
