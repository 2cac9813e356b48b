"""File names the GUI receives (dropped files) or chooses (results, recordings): never an existing file's."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Collection
from pathlib import Path

from PySide6.QtGui import QDragEnterEvent, QDropEvent

from app.live.sinks import RecorderSink


def paths_from_mime(event: QDragEnterEvent | QDropEvent, suffixes: Collection[str]) -> list[Path]:
    """The local files a drag carries whose suffix (lower case, with the dot) is in `suffixes`, in order."""
    mime = event.mimeData()
    if not mime.hasUrls():
        return []
    paths = [Path(url.toLocalFile()) for url in mime.urls() if url.isLocalFile()]
    return [p for p in paths if p.suffix.lower() in suffixes]


def free_path(path: Path, taken: Callable[[Path], bool] | None = None) -> Path:
    """`path` if nothing is there, else the first free `<stem>-2<suffix>`, `<stem>-3<suffix>`, ...

    `taken`, when given, also rules a name out (e.g. while a file is being written under another name)."""

    def free(p: Path) -> bool:
        return not p.exists() and not (taken is not None and taken(p))

    if free(path):
        return path
    for n in itertools.count(2):
        candidate = path.with_name(f"{path.stem}-{n}{path.suffix}")
        if free(candidate):
            return candidate
    raise AssertionError("unreachable")


def recording_path(chosen: str | Path, when: float | None = None) -> Path:
    """A new file for each recording, next to the one the user chose: `<stem>-YYYYmmdd-HHMMSS.mp4` (free
    also of a recording still being written under its temporary name)."""
    chosen = Path(chosen)
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(when))
    first = chosen.with_name(f"{chosen.stem}-{stamp}{chosen.suffix or '.mp4'}")
    return free_path(first, lambda p: RecorderSink.part_path(p).exists())
