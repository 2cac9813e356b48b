"""Making model files present under the models folder: archives fetched once and unpacked safely, then
each file's own mirrors (app/core/fetch.py fetches one file), every file hash-checked and installed atomically.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import stat
import time
import zipfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import requests

from app.errors import DownloadError
from app.models.fetch import (
    DEFAULT_OPTIONS,
    DownloadCancelled,
    FetchOptions,
    ProgressCallback,
    fetch_file,
    part_path,
    unlink_quietly,
)
from app.models.manifest import Archive, ModelFile
from app.models.status import HASH_CHUNK, Status, check_file, sha256_file

log = logging.getLogger(__name__)
STAGING_DIR = ".downloads"  # under the models folder: archives while they are fetched and unpacked


@dataclass(frozen=True)
class DownloadOutcome:
    file: ModelFile
    path: Path
    action: str  # 'present' (already good), 'downloaded', 'extracted'
    sha256: str | None
    confirmed: bool
    source: str



# --- zip archives ---


def _unsafe_reason(info: zipfile.ZipInfo) -> str | None:
    name = info.filename.replace("\\", "/")
    if not name or "\x00" in name:
        return "empty or NUL in name"
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        return "absolute path"
    if ".." in PurePosixPath(name).parts:
        return "'..' in path"
    if stat.S_ISLNK(info.external_attr >> 16):
        return "symbolic link"
    return None


def check_zip(zf: zipfile.ZipFile) -> None:
    """Refuse the whole archive if any member could land outside the target folder."""
    for info in zf.infolist():
        reason = _unsafe_reason(info)
        if reason is not None:
            raise DownloadError(f"refusing archive {zf.filename}: member {info.filename!r} ({reason})")


def extract_zip(
    zip_path: Path,
    target_dir: Path,
    *,
    only: Mapping[str, tuple[int | None, str | None]] | None = None,
    flatten: bool = False,
    progress: ProgressCallback | None = None,
) -> dict[str, Path]:
    """Extract members safely, each through `<file>.part` and os.replace.

    `only` maps member names to (size, sha256) expectations (None: not checked); with `flatten` they are
    matched by file name wherever they sit in the archive and written straight into `target_dir`.
    Without `only`, every file member is extracted at its relative path. Returns member name -> path.
    Raises DownloadError on an unsafe archive, a missing member, or a member of the wrong size or hash.
    """
    installed: dict[str, Path] = {}
    target_dir = Path(target_dir)
    try:
        zf = zipfile.ZipFile(zip_path)
    except zipfile.BadZipFile as exc:
        raise DownloadError(f"{zip_path.name} is not a valid zip archive: {exc}") from exc
    with zf:
        check_zip(zf)
        files = [i for i in zf.infolist() if not i.is_dir()]
        chosen: list[tuple[zipfile.ZipInfo, str, tuple[int | None, str | None]]] = []
        if only is None:
            chosen = [(i, i.filename.replace("\\", "/"), (None, None)) for i in files]
        else:
            for name, expected in only.items():
                key = PurePosixPath(name).name if flatten else name
                matches = [
                    i
                    for i in files
                    if (PurePosixPath(i.filename.replace("\\", "/")).name if flatten else i.filename) == key
                ]
                if len(matches) != 1:
                    raise DownloadError(
                        f"{zip_path.name}: expected one member named {name!r}, found {len(matches)}"
                    )
                chosen.append((matches[0], key if flatten else name, expected))
        for info, relname, (size, sha256) in chosen:
            dest = target_dir.joinpath(*PurePosixPath(relname).parts)
            if not dest.resolve().is_relative_to(target_dir.resolve()):
                raise DownloadError(f"refusing archive member {info.filename!r}: outside the target folder")
            installed[info.filename] = _extract_one(zf, info, dest, size, sha256, progress)
    return installed


def _extract_one(
    zf: zipfile.ZipFile,
    info: zipfile.ZipInfo,
    dest: Path,
    size: int | None,
    sha256: str | None,
    progress: ProgressCallback | None,
) -> Path:
    if size is not None and info.file_size != size:
        raise DownloadError(f"archive member {info.filename} is {info.file_size} bytes, expected {size}")
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = part_path(dest)
    digest = hashlib.sha256()
    done = 0
    try:
        with zf.open(info) as src, part.open("wb") as out:
            while chunk := src.read(HASH_CHUNK):
                out.write(chunk)
                digest.update(chunk)
                done += len(chunk)
                if size is not None and done > size:
                    raise DownloadError(f"archive member {info.filename} is longer than {size} bytes")
                if progress is not None and not progress(done, info.file_size):
                    raise DownloadCancelled(f"extraction of {dest.name} cancelled")
            out.flush()
            os.fsync(out.fileno())
    except BaseException:
        unlink_quietly(part)
        raise
    if sha256 is not None and digest.hexdigest() != sha256:
        unlink_quietly(part)
        raise DownloadError(
            f"archive member {info.filename}: sha256 {digest.hexdigest()} does not match {sha256}"
        )
    os.replace(part, dest)
    return dest


# --- model files ---

ProgressFactory = Callable[[str], ProgressCallback | None]  # label -> callback for that one transfer


def _fetch_archive_members(
    models_dir: Path,
    archive: Archive,
    members: Sequence[ModelFile],
    outcomes: list[DownloadOutcome],
    *,
    progress_for: ProgressFactory | None,
    options: FetchOptions,
    session: requests.Session | None,
    sleep: Callable[[float], None],
) -> None:
    """Fetch `archive` and unpack `members`, appending an outcome for each member as it is installed."""
    staging = models_dir / STAGING_DIR
    zip_dest = staging / archive.name
    # A verified archive kept by a cancelled unpacking is used again rather than fetched again.
    if (
        zip_dest.is_file()
        and zip_dest.stat().st_size == archive.size
        and sha256_file(zip_dest) == archive.sha256
    ):
        source = f"{zip_dest} (kept from an earlier run)"
    else:
        source = fetch_file(
            archive.urls,
            zip_dest,
            size=archive.size,
            sha256=archive.sha256,
            progress=progress_for(archive.name) if progress_for else None,
            options=options,
            session=session,
            sleep=sleep,
        ).url
    keep_archive = False
    try:
        for f in members:
            assert f.member is not None
            extract_zip(
                zip_dest,
                f.path_in(models_dir).parent,
                only={f.member: (f.size, f.trusted_sha256)},
                flatten=True,
                progress=progress_for(f"{f.relpath} (unpacking)") if progress_for else None,
            )
            path = f.path_in(models_dir)
            outcomes.append(DownloadOutcome(f, path, "extracted", f.trusted_sha256, f.hash_confirmed, source))
    except DownloadCancelled:
        keep_archive = True
        raise
    finally:
        if not keep_archive:
            unlink_quietly(zip_dest)  # the members are what we keep; the archive is only a carrier
            with contextlib.suppress(OSError):
                staging.rmdir()  # only when empty


@contextlib.contextmanager
def _file_errors_as_download_errors(models_dir: Path) -> Iterator[None]:
    """A models folder that cannot be written (disk full, read-only) is a download failure, not a crash."""
    try:
        yield
    except OSError as exc:
        where = exc.filename or models_dir
        raise DownloadError(f"cannot write to {where}: {exc.strerror or exc}") from exc


def download(
    models_dir: Path,
    files: Sequence[ModelFile],
    *,
    force: bool = False,
    progress_for: ProgressFactory | None = None,
    options: FetchOptions = DEFAULT_OPTIONS,
    session: requests.Session | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> list[DownloadOutcome]:
    """Make every file in `files` present and verified under `models_dir`.

    Files already good are left alone (unless `force`). Files inside an archive come from the archive's
    official sources first (fetched once for all its members), then from their own mirrors.
    Raises DownloadError (or DownloadCancelled) at the first file that cannot be fetched, or when the models
    folder cannot be written (disk full, read-only); files finished before that stay installed.
    """
    with _file_errors_as_download_errors(models_dir):
        models_dir = Path(models_dir)
        outcomes: list[DownloadOutcome] = []
        pending: list[ModelFile] = []
        for f in files:
            if not f.downloadable:
                raise DownloadError(f"{f.relpath} has no download source: {f.note or f.provenance}")
            if not force:
                current = check_file(models_dir, f, full=True)
                if current.status in (Status.OK, Status.UNCONFIRMED):
                    # Unconfirmed: nothing to judge it by, and fetching it again would prove nothing either.
                    confirmed = current.status is Status.OK
                    outcomes.append(DownloadOutcome(f, current.path, "present", current.sha256, confirmed, ""))
                    continue
            pending.append(f)

        archives: dict[str, tuple[Archive, list[ModelFile]]] = {}
        for f in pending:
            if f.archive is not None:
                archives.setdefault(f.archive.name, (f.archive, []))[1].append(f)
        for name, (archive, members) in archives.items():
            try:
                _fetch_archive_members(
                    models_dir,
                    archive,
                    members,
                    outcomes,
                    progress_for=progress_for,
                    options=options,
                    session=session,
                    sleep=sleep,
                )
            except DownloadCancelled:
                raise
            except DownloadError as exc:
                if not all(m.urls for m in members):
                    raise
                log.warning("%s could not be used (%s); trying the files' own mirrors", name, exc)
        done_by_archive = {o.file.key for o in outcomes if o.action == "extracted"}

        for f in pending:
            if f.key in done_by_archive:
                continue
            result = fetch_file(
                f.urls,
                f.path_in(models_dir),
                size=f.size,
                sha256=f.trusted_sha256,
                progress=progress_for(f.relpath) if progress_for else None,
                options=options,
                session=session,
                sleep=sleep,
            )
            outcomes.append(
                DownloadOutcome(f, result.path, "downloaded", result.sha256, result.confirmed, result.url)
            )
        return outcomes
