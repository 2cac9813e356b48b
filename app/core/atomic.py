"""Writing a file so that a crash, a cancel or a full disk never leaves a half-written file under its name."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from app.errors import OutputError


def temp_beside(path: Path) -> Path:
    """A new, empty, hidden file in `path`'s folder to write into and rename over `path` at the end.

    os.open rather than mkstemp: the finished file gets the usual permissions (0666 less the umask)."""
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise OutputError(f"cannot write {path}: folder {parent} does not exist")
    if path.is_dir():
        raise OutputError(f"cannot write {path}: it is a folder")
    temp = parent / f".{path.name}.{secrets.token_hex(4)}.part"
    try:
        os.close(os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from exc
    return temp


def write_bytes_atomically(path: Path, data: bytes) -> Path:
    temp = temp_beside(path)
    try:
        temp.write_bytes(data)
        os.replace(temp, path)
    except OSError as exc:
        temp.unlink(missing_ok=True)
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from exc
    return path
