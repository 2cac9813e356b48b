"""Is each model file present and intact? Size first (cheap), then SHA-256 in chunks."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from app.models.manifest import MODEL_FILES, ModelFile

log = logging.getLogger(__name__)

HASH_CHUNK = 1 << 20

# Called with (bytes hashed so far, total bytes) while a large file is hashed; return False to stop early.
HashProgress = Callable[[int, int], bool]


class Status(StrEnum):
    OK = "ok"  # size and confirmed hash match
    PRESENT = "present"  # size matches; hash not checked (quick check)
    MISSING = "missing"
    CORRUPT = "corrupt"  # size or confirmed hash differs
    UNCONFIRMED = "unconfirmed"  # present, but no confirmed hash to check it against


@dataclass(frozen=True)
class FileStatus:
    file: ModelFile
    path: Path
    status: Status
    detail: str = ""
    sha256: str | None = None  # computed hash, when one was computed

    @property
    def is_problem(self) -> bool:
        """Missing required files and corrupt files of any kind stop a job; the rest only inform."""
        if self.status is Status.CORRUPT:
            return True
        return self.status is Status.MISSING and self.file.required


class HashCancelled(Exception):
    pass


def sha256_file(path: Path, *, chunk_size: int = HASH_CHUNK, progress: HashProgress | None = None) -> str:
    """SHA-256 of a file, read in chunks so a 500 MB model never sits in memory."""
    digest = hashlib.sha256()
    total = path.stat().st_size
    done = 0
    with path.open("rb") as fh:
        while chunk := fh.read(chunk_size):
            digest.update(chunk)
            done += len(chunk)
            if progress is not None and not progress(done, total):
                raise HashCancelled(str(path))
    return digest.hexdigest()


def check_file(
    models_dir: Path, file: ModelFile, *, full: bool = True, progress: HashProgress | None = None
) -> FileStatus:
    """Status of one file. `full=False` compares sizes only and never reads the file."""
    path = file.path_in(models_dir)
    if not path.is_file():
        return FileStatus(file, path, Status.MISSING, "not found")
    size = path.stat().st_size
    if not file.hash_confirmed:
        detail = "no confirmed hash to check against"
        if file.provenance:
            detail += f" ({file.provenance})"
        computed = sha256_file(path, progress=progress) if full else None
        if computed is not None and file.sha256 is not None and computed != file.sha256:
            detail += "; differs from the listed, unconfirmed hash"
        return FileStatus(file, path, Status.UNCONFIRMED, detail, computed)
    if file.size is not None and size != file.size:
        return FileStatus(file, path, Status.CORRUPT, f"size {size} bytes, expected {file.size}")
    if not full:
        return FileStatus(file, path, Status.PRESENT, "size matches; hash not checked")
    computed = sha256_file(path, progress=progress)
    if computed != file.sha256:
        return FileStatus(file, path, Status.CORRUPT, f"sha256 {computed}, expected {file.sha256}", computed)
    return FileStatus(file, path, Status.OK, "size and sha256 match", computed)


def verify(
    models_dir: Path,
    files: Sequence[ModelFile] = MODEL_FILES,
    *,
    full: bool = True,
    progress_for: Callable[[ModelFile], HashProgress | None] | None = None,
) -> list[FileStatus]:
    """Status of every file in `files` (the manifest by default) under `models_dir`."""
    return [
        check_file(models_dir, f, full=full, progress=progress_for(f) if progress_for else None)
        for f in files
    ]


def problems(statuses: Iterable[FileStatus]) -> list[FileStatus]:
    return [s for s in statuses if s.is_problem]
