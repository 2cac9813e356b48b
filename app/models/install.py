"""Installing a model file the user already has ("Locate file..."): checked against the manifest, then
copied into place atomically."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from app.errors import ModelError
from app.models.manifest import ModelFile
from app.models.status import sha256_file


@dataclass(frozen=True)
class LocateResult:
    path: Path
    confirmed: bool  # False: the manifest has no confirmed hash for this file, so it was taken as it is


def install_local_file(models_dir: Path, file: ModelFile, source: Path) -> LocateResult:
    """Check `source` against the manifest (size, SHA-256) and copy it into place atomically.

    Raises ModelError when it is not the file the manifest names; nothing is written then."""
    source = Path(source)
    if not source.is_file():
        raise ModelError(f"{source} is not a file", fetch=None)
    size = source.stat().st_size
    if file.hash_confirmed and file.size is not None and size != file.size:
        raise ModelError(f"{source.name} is not {file.relpath}: it has {size} bytes, expected {file.size}", fetch=None)
    digest = sha256_file(source)
    if file.trusted_sha256 is not None and digest != file.trusted_sha256:
        raise ModelError(f"{source.name} is not {file.relpath}: its SHA-256 is {digest}, "
                         f"expected {file.trusted_sha256}", fetch=None)
    dest = file.path_in(models_dir)
    dest.parent.mkdir(parents=True, exist_ok=True)
    if source.resolve() != dest.resolve():
        part = dest.with_name(dest.name + ".part")
        try:
            shutil.copyfile(source, part)
            if sha256_file(part) != digest:
                raise ModelError(f"copying {source} to {dest} changed its content; check the disk", fetch=None)
            os.replace(part, dest)
        finally:
            part.unlink(missing_ok=True)
    return LocateResult(dest, file.trusted_sha256 is not None)
