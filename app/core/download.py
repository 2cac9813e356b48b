"""Fetching model files: mirrors in order, retry with backoff, resume, hash check, atomic install.

A file is always written as `<name>.part` first. Only once its size and SHA-256 are right is it moved onto
its final name with os.replace, so a crash, a cancel or a bad mirror never leaves a wrong file where the
engine looks. A `.part` left behind by a cancel or a broken connection is resumed (HTTP Range) next time.

pooch is not used here: its retrieve() downloads into a randomly named temporary file, so it can neither
resume nor be cancelled from a progress callback. requests gives both with little code.
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
from typing import Protocol

import requests

from app.core.errors import EXIT_INTERRUPTED, Cancelled, DownloadError
from app.core.manifest import Archive, ModelFile
from app.core.model_status import HASH_CHUNK, Status, check_file, sha256_file

log = logging.getLogger(__name__)

USER_AGENT = "deep-live-cam-model-fetcher/1"
STAGING_DIR = ".downloads"  # under the models folder: archives while they are fetched and unpacked


class ProgressCallback(Protocol):
    """Told how far a transfer has got; returning False cancels it (the `.part` is kept for resuming)."""

    def __call__(self, done_bytes: int, total_bytes: int | None, /) -> bool: ...


class DownloadCancelled(DownloadError, Cancelled):
    """The user stopped a download. Nothing was installed; a `.part` file may remain for resuming."""

    exit_code = EXIT_INTERRUPTED


@dataclass(frozen=True)
class FetchOptions:
    attempts: int = 3  # per source, before moving on to the next one
    backoff_s: float = 1.0  # wait before retry n is backoff_s * 2**(n-1)
    timeout_s: float = 30.0  # connect and between-bytes timeout
    chunk_size: int = 1 << 20


@dataclass(frozen=True)
class FetchResult:
    path: Path
    sha256: str
    url: str  # where the bytes came from; '' when a complete `.part` was already on disk
    confirmed: bool  # False: installed without a trusted hash to compare with


@dataclass(frozen=True)
class DownloadOutcome:
    file: ModelFile
    path: Path
    action: str  # 'present' (already good), 'downloaded', 'extracted'
    sha256: str | None
    confirmed: bool
    source: str


class _Retry(Exception):
    """Worth trying the same source again (network trouble, 5xx, a truncated body)."""


class _SourceFailed(Exception):
    """This source will not give the file (4xx, wrong size, wrong bytes); try the next one."""


class _Cancelled(Exception):
    pass


def _part_path(dest: Path) -> Path:
    return dest.with_name(dest.name + ".part")


def _unlink(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


def _hash_prefix(part: Path) -> hashlib._Hash:
    digest = hashlib.sha256()
    with part.open("rb") as fh:
        while chunk := fh.read(HASH_CHUNK):
            digest.update(chunk)
    return digest


def _content_length(response: requests.Response) -> int | None:
    value = response.headers.get("Content-Length")
    return int(value) if value and value.isdigit() else None


def _transfer(
    session: requests.Session,
    url: str,
    part: Path,
    *,
    size: int | None,
    resume: bool,
    progress: ProgressCallback | None,
    options: FetchOptions,
) -> tuple[str, int]:
    """One attempt: bring `part` up to the whole file. Returns (sha256 of part, offset it resumed from)."""
    offset = part.stat().st_size if part.is_file() else 0
    if offset and (not resume or (size is not None and offset > size)):
        _unlink(part)
        offset = 0
    digest = _hash_prefix(part) if offset else hashlib.sha256()
    if size is not None and offset == size:
        return digest.hexdigest(), offset  # finished earlier, e.g. cancelled during the hash check

    # identity: a compressed body would make byte offsets (and so resuming) meaningless.
    headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    try:
        response = session.get(url, headers=headers, stream=True, timeout=options.timeout_s)
    except (requests.ConnectionError, requests.Timeout) as exc:
        raise _Retry(f"connection failed: {exc}") from exc
    except requests.RequestException as exc:  # a bad URL, a redirect loop: this source will not work
        raise _SourceFailed(f"request failed: {exc}") from exc

    with response:
        code = response.status_code
        if code == 416 and offset:
            _unlink(part)  # our .part does not fit what the server has; start over
            raise _Retry("server refused to resume; restarting from the beginning")
        if code == 429 or code >= 500:
            raise _Retry(f"HTTP {code}")
        if code >= 400:
            raise _SourceFailed(f"HTTP {code}")
        if code == 206 and offset:
            content_range = response.headers.get("Content-Range", "")
            if not content_range.startswith(f"bytes {offset}-"):
                _unlink(part)
                raise _Retry(f"unexpected Content-Range {content_range!r}; restarting")
            mode = "ab"
        elif code == 200:
            if offset:
                log.info("%s ignored the resume request; downloading from the start", url)
            offset, digest, mode = 0, hashlib.sha256(), "wb"
        else:
            raise _SourceFailed(f"unexpected HTTP {code}")

        length = _content_length(response)
        if size is not None and length is not None and offset + length != size:
            raise _SourceFailed(f"server offers {offset + length} bytes, expected {size}")
        total = size if size is not None else (offset + length if length is not None else None)
        done = offset
        if progress is not None and not progress(done, total):
            raise _Cancelled
        try:
            with part.open(mode) as fh:
                for chunk in response.iter_content(options.chunk_size):
                    if not chunk:
                        continue
                    fh.write(chunk)
                    digest.update(chunk)
                    done += len(chunk)
                    if size is not None and done > size:
                        raise _SourceFailed(f"more than the expected {size} bytes")
                    if progress is not None and not progress(done, total):
                        raise _Cancelled
                fh.flush()
                os.fsync(fh.fileno())
        except _SourceFailed:
            _unlink(part)
            raise
        except (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError) as exc:
            # The bytes that did arrive are in the .part, so the retry resumes after them.
            raise _Retry(f"transfer broke off after {done} bytes: {exc}") from exc
        if length is not None and done != offset + length:
            raise _Retry(f"transfer ended after {done} of {offset + length} bytes")
    return digest.hexdigest(), offset


def _from_source(
    session: requests.Session,
    url: str,
    part: Path,
    *,
    size: int | None,
    sha256: str | None,
    progress: ProgressCallback | None,
    options: FetchOptions,
    sleep: Callable[[float], None],
) -> str:
    """Try one source with retries; returns the verified hash of `part`, or raises _SourceFailed."""
    # Resuming is only safe when a hash will catch a .part stitched from two different files.
    resume = sha256 is not None
    restarted = False
    attempt = 0
    last = "no attempt made"
    while attempt < max(1, options.attempts):
        if attempt:
            sleep(options.backoff_s * 2 ** (attempt - 1))
        attempt += 1
        try:
            digest, resumed_from = _transfer(
                session, url, part, size=size, resume=resume, progress=progress, options=options
            )
        except _Retry as exc:
            last = str(exc)
            log.warning("%s: %s (attempt %d of %d)", url, last, attempt, options.attempts)
            continue
        if size is not None and part.stat().st_size != size:
            _unlink(part)
            raise _SourceFailed(f"got {part.stat().st_size} bytes, expected {size}")
        if sha256 is not None and digest != sha256:
            _unlink(part)
            if resumed_from and not restarted:
                # The old .part may have come from another file; one clean try before blaming the source.
                restarted = True
                log.warning("%s: hash mismatch after resuming; downloading again from the start", url)
                attempt -= 1
                continue
            raise _SourceFailed(f"sha256 {digest} does not match the expected {sha256}")
        return digest
    raise _SourceFailed(f"gave up after {options.attempts} attempts: {last}")


def fetch_file(
    urls: Sequence[str],
    dest: Path,
    *,
    size: int | None = None,
    sha256: str | None = None,
    progress: ProgressCallback | None = None,
    options: FetchOptions = FetchOptions(),
    session: requests.Session | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> FetchResult:
    """Download `dest` from the first of `urls` that gives the right bytes, and install it atomically.

    `sha256=None` installs whatever arrives (reported as unconfirmed). Raises DownloadCancelled when
    `progress` returns False, DownloadError when no source works; `dest` is untouched in both cases.
    """
    if not urls:
        raise DownloadError(f"no download source is known for {dest.name}")
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = _part_path(dest)
    own_session = session is None
    http = session if session is not None else requests.Session()
    failures: list[str] = []
    try:
        for url in urls:
            try:
                digest = _from_source(
                    http, url, part, size=size, sha256=sha256, progress=progress, options=options, sleep=sleep
                )
            except _Cancelled:
                raise DownloadCancelled(f"download of {dest.name} cancelled") from None
            except _SourceFailed as exc:
                failures.append(f"{url}: {exc}")
                log.warning("%s: %s; trying the next source", url, exc)
                continue
            os.replace(part, dest)
            if sha256 is None:
                log.warning("%s installed without a confirmed hash (sha256 %s)", dest.name, digest)
            return FetchResult(dest, digest, url, confirmed=sha256 is not None)
    finally:
        if own_session:
            http.close()
    raise DownloadError(f"could not download {dest.name}:\n  " + "\n  ".join(failures))


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
    part = _part_path(dest)
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
        _unlink(part)
        raise
    if sha256 is not None and digest.hexdigest() != sha256:
        _unlink(part)
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
            _unlink(zip_dest)  # the members are what we keep; the archive is only a carrier
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
    options: FetchOptions = FetchOptions(),
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
