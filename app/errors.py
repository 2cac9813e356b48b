"""The errors a user can cause, each with its own documented exit code.

Every front end turns these into a message: the CLI prints it and exits with `exit_code`, the API answers
with `http_status`, the GUI shows it. Anything else escaping the engine is a bug.
"""

from __future__ import annotations


class DLCError(Exception):
    """Base of every user-facing error. The message is written for the user."""

    exit_code = 1
    http_status = 500


class ModelError(DLCError):
    """A model file is missing, corrupt or of the wrong kind.

    The message says what is wrong in words that hold for every front end; how to fix it (a command, a dialog)
    is each front end's to add. `fetch` names the models (manifest keys) whose download fixes it: empty for
    "the files named", None when no download helps."""

    exit_code = 3
    http_status = 503

    def __init__(self, message: str, fetch: tuple[str, ...] | None = ()) -> None:
        super().__init__(message)
        self.fetch = fetch


class InputError(DLCError):
    """An input file cannot be read or is not an image/video the engine understands."""

    exit_code = 4
    http_status = 400


class NoFaceError(DLCError):
    """No face was found where one is needed."""

    exit_code = 5
    http_status = 422


class OutputError(DLCError):
    """The output cannot be written."""

    exit_code = 6
    http_status = 500


class CameraError(DLCError):
    """A camera cannot be opened or stopped delivering."""

    exit_code = 7
    http_status = 503


class DownloadError(DLCError):
    """A model download failed (network, hash mismatch, bad archive)."""

    exit_code = 8
    http_status = 502


class Cancelled(DLCError):
    """The user cancelled a job; nothing half-done was left under an output name."""

    exit_code = 130
    http_status = 499


class OptionError(DLCError):
    """An option value is out of range."""

    exit_code = 2
    http_status = 422


EXIT_OK = 0
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
