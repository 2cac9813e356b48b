"""How the desktop app words an error: the engine says what is wrong, this adds where in the app to fix it."""

from __future__ import annotations

from app.core.int8 import Int8NotReady
from app.errors import DLCError, ModelError

MODELS_DIALOG = "Tools \u25b8 Models\u2026"


def note_text(text: str, fetch: tuple[str, ...] | None) -> str:
    """A notice from the engine (the job goes on), with where to get what would help."""
    return f"{text[:1].upper()}{text[1:]}. Download it in {MODELS_DIALOG}." if fetch is not None else text


def user_text(exc: BaseException) -> str:
    """A message for the banner or a photo's status line."""
    if not isinstance(exc, DLCError):
        return f"{type(exc).__name__}: {exc}"
    text = str(exc)
    if isinstance(exc, Int8NotReady) and exc.fix in ("build", "calibrate"):
        text += f"\nBuild it with Optimize for CPU\u2026 in {MODELS_DIALOG}, or choose another precision."
    elif isinstance(exc, ModelError) and exc.fetch is not None:
        text += f"\nDownload it in {MODELS_DIALOG}."
    return text
