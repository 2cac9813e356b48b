"""Fetching one file over HTTP: mirrors in order, retry with backoff, resume, hash check, atomic install.

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
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import requests

from app.errors import EXIT_INTERRUPTED, Cancelled, DownloadError
from app.models.status import HASH_CHUNK

log = logging.getLogger(__name__)

USER_AGENT = "deep-live-cam-model-fetcher/1"


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


DEFAULT_OPTIONS = FetchOptions()


@dataclass(frozen=True)
class FetchResult:
    path: Path
    sha256: str
    url: str  # where the bytes came from; '' when a complete `.part` was already on disk
    confirmed: bool  # False: installed without a trusted hash to compare with


class _Retry(Exception):
    """Worth trying the same source again (network trouble, 5xx, a truncated body)."""


class _SourceFailed(Exception):
    """This source will not give the file (4xx, wrong size, wrong bytes); try the next one."""


class _Cancelled(Exception):
    pass


def part_path(dest: Path) -> Path:
    return dest.with_name(dest.name + ".part")


def unlink_quietly(path: Path) -> None:
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
        unlink_quietly(part)
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
            unlink_quietly(part)  # our .part does not fit what the server has; start over
            raise _Retry("server refused to resume; restarting from the beginning")
        if code == 429 or code >= 500:
            raise _Retry(f"HTTP {code}")
        if code >= 400:
            raise _SourceFailed(f"HTTP {code}")
        if code == 206 and offset:
            content_range = response.headers.get("Content-Range", "")
            if not content_range.startswith(f"bytes {offset}-"):
                unlink_quietly(part)
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
            unlink_quietly(part)
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
            unlink_quietly(part)
            raise _SourceFailed(f"got {part.stat().st_size} bytes, expected {size}")
        if sha256 is not None and digest != sha256:
            unlink_quietly(part)
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
    options: FetchOptions = DEFAULT_OPTIONS,
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
    part = part_path(dest)
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


