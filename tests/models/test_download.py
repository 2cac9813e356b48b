"""Downloads against a real HTTP server on 127.0.0.1 that the tests start (Range requests supported)."""

from __future__ import annotations

import hashlib
import io
import re
import threading
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from app.errors import DownloadError
from app.models.download import download, extract_zip
from app.models.fetch import DownloadCancelled, FetchOptions, ProgressCallback, fetch_file
from app.models.manifest import Archive, ModelFile

FAST = FetchOptions(attempts=3, backoff_s=0.0, timeout_s=5.0, chunk_size=16 * 1024)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def standin_bytes(n: int, seed: int = 1) -> bytes:
    """Deterministic, incompressible-looking stand-in content."""
    out = bytearray()
    counter = 0
    while len(out) < n:
        out += hashlib.sha256(f"{seed}:{counter}".encode()).digest()
        counter += 1
    return bytes(out[:n])


@dataclass
class Route:
    data: bytes
    status: int = 200  # anything but 200 is sent as an error with no body
    fail_first: int = 0  # answer this many requests with 500 first
    cut_once_after: int | None = None  # on the first full answer, close the connection after this many bytes
    ranges: bool = True  # honour Range requests


@dataclass
class LocalServer:
    """A tiny file server on 127.0.0.1; `requests` records (path, Range header) for every GET."""

    routes: dict[str, Route] = field(default_factory=dict)
    requests: list[tuple[str, str | None]] = field(default_factory=list)
    port: int = 0

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def add(self, path: str, data: bytes, **kw: object) -> str:
        self.routes[path] = Route(data, **kw)  # type: ignore[arg-type]
        return self.url(path)

    def ranges_seen(self, path: str) -> list[str | None]:
        return [r for p, r in self.requests if p == path]


def _handler_for(state: LocalServer) -> type[BaseHTTPRequestHandler]:
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - quiet test output
            pass

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            rng = self.headers.get("Range")
            with lock:
                state.requests.append((self.path, rng))
                route = state.routes.get(self.path)
                fail = route is not None and route.fail_first > 0
                if fail and route is not None:
                    route.fail_first -= 1
            if route is None or route.status != 200 or fail:
                self.send_response(404 if route is None else (500 if fail else route.status))
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            data, start, status = route.data, 0, 200
            if rng and route.ranges:
                m = re.fullmatch(r"bytes=(\d+)-", rng)
                assert m, rng
                start = int(m.group(1))
                if start >= len(data):
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{len(data)}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                status = 206
            body = data[start:]
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Accept-Ranges", "bytes")
            if status == 206:
                self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            self.end_headers()
            cut = route.cut_once_after
            if cut is not None:
                route.cut_once_after = None
                self.wfile.write(body[:cut])
                self.wfile.flush()
                self.close_connection = True
                return
            self.wfile.write(body)

    return Handler


@pytest.fixture
def server() -> Iterator[LocalServer]:
    state = LocalServer()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(state))
    httpd.daemon_threads = True
    state.port = httpd.server_address[1]
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()


DATA = standin_bytes(200_000)


def test_fetch_installs_file_and_reports_progress(server: LocalServer, tmp_path: Path) -> None:
    url = server.add("/model.onnx", DATA)
    calls: list[tuple[int, int | None]] = []

    def progress(done: int, total: int | None) -> bool:
        calls.append((done, total))
        return True

    dest = tmp_path / "model.onnx"
    result = fetch_file([url], dest, size=len(DATA), sha256=sha(DATA), progress=progress, options=FAST)

    assert dest.read_bytes() == DATA
    assert not (tmp_path / "model.onnx.part").exists()
    assert result.confirmed and result.sha256 == sha(DATA) and result.url == url
    assert calls[0] == (0, len(DATA)) and calls[-1] == (len(DATA), len(DATA))
    assert len(calls) > 3  # one call per chunk
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)


def test_resume_from_partial_file_uses_range(server: LocalServer, tmp_path: Path) -> None:
    url = server.add("/model.onnx", DATA)
    dest = tmp_path / "model.onnx"
    (tmp_path / "model.onnx.part").write_bytes(DATA[:120_000])
    seen: list[int] = []

    def progress(done: int, total: int | None) -> bool:
        seen.append(done)
        return True

    fetch_file([url], dest, size=len(DATA), sha256=sha(DATA), progress=progress, options=FAST)

    assert server.ranges_seen("/model.onnx") == ["bytes=120000-"]
    assert seen[0] == 120_000
    assert dest.read_bytes() == DATA


def test_broken_connection_is_retried_and_resumed(server: LocalServer, tmp_path: Path) -> None:
    url = server.add("/model.onnx", DATA, cut_once_after=70_000)
    dest = tmp_path / "model.onnx"
    waits: list[float] = []

    fetch_file([url], dest, size=len(DATA), sha256=sha(DATA), options=FAST, sleep=waits.append)

    ranges = server.ranges_seen("/model.onnx")
    assert len(ranges) == 2 and ranges[0] is None
    assert ranges[1] is not None and ranges[1].startswith("bytes=")
    assert int(ranges[1][6:-1]) > 0
    assert waits == [0.0]
    assert dest.read_bytes() == DATA


def test_server_without_range_support_restarts_cleanly(server: LocalServer, tmp_path: Path) -> None:
    url = server.add("/model.onnx", DATA, ranges=False)
    dest = tmp_path / "model.onnx"
    (tmp_path / "model.onnx.part").write_bytes(DATA[:50_000])

    fetch_file([url], dest, size=len(DATA), sha256=sha(DATA), options=FAST)

    assert dest.read_bytes() == DATA


def test_failing_mirror_is_skipped_and_5xx_retried_with_backoff(server: LocalServer, tmp_path: Path) -> None:
    missing = server.url("/gone.onnx")
    flaky = server.add("/flaky.onnx", DATA, fail_first=2)
    dest = tmp_path / "model.onnx"
    waits: list[float] = []
    options = FetchOptions(attempts=3, backoff_s=0.5, timeout_s=5.0, chunk_size=16 * 1024)

    result = fetch_file(
        [missing, flaky], dest, size=len(DATA), sha256=sha(DATA), options=options, sleep=waits.append
    )

    assert result.url == flaky
    assert len(server.ranges_seen("/gone.onnx")) == 1  # a 404 is not retried
    assert len(server.ranges_seen("/flaky.onnx")) == 3
    assert waits == [0.5, 1.0]
    assert dest.read_bytes() == DATA


def test_hash_mismatch_installs_nothing(server: LocalServer, tmp_path: Path) -> None:
    url = server.add("/model.onnx", DATA)
    dest = tmp_path / "model.onnx"

    with pytest.raises(DownloadError, match="does not match"):
        fetch_file([url], dest, size=len(DATA), sha256=sha(b"something else"), options=FAST)

    assert not dest.exists()
    assert not (tmp_path / "model.onnx.part").exists()


def test_wrong_size_is_refused_before_downloading(server: LocalServer, tmp_path: Path) -> None:
    url = server.add("/model.onnx", DATA)
    dest = tmp_path / "model.onnx"

    with pytest.raises(DownloadError, match="expected"):
        fetch_file([url], dest, size=len(DATA) + 1, sha256=sha(DATA), options=FAST)

    assert not dest.exists()


def test_bad_mirror_then_good_mirror(server: LocalServer, tmp_path: Path) -> None:
    bad = server.add("/bad.onnx", standin_bytes(len(DATA), seed=2))
    good = server.add("/good.onnx", DATA)
    dest = tmp_path / "model.onnx"

    result = fetch_file([bad, good], dest, size=len(DATA), sha256=sha(DATA), options=FAST)

    assert result.url == good and dest.read_bytes() == DATA


def test_cancel_leaves_nothing_under_the_final_name(server: LocalServer, tmp_path: Path) -> None:
    url = server.add("/model.onnx", DATA)
    dest = tmp_path / "model.onnx"

    with pytest.raises(DownloadCancelled) as info:
        fetch_file(
            [url], dest, size=len(DATA), sha256=sha(DATA), progress=lambda d, t: d < 40_000, options=FAST
        )

    assert info.value.exit_code == 130
    assert not dest.exists()
    part = tmp_path / "model.onnx.part"
    assert part.exists() and 0 < part.stat().st_size < len(DATA)

    # The kept .part is resumed by the next run.
    kept = part.stat().st_size
    fetch_file([url], dest, size=len(DATA), sha256=sha(DATA), options=FAST)
    assert server.ranges_seen("/model.onnx")[-1] == f"bytes={kept}-"
    assert dest.read_bytes() == DATA and not part.exists()


def test_unconfirmed_hash_is_reported(server: LocalServer, tmp_path: Path) -> None:
    url = server.add("/model.onnx", DATA)

    result = fetch_file([url], tmp_path / "model.onnx", options=FAST)

    assert not result.confirmed and result.sha256 == sha(DATA)


# --- zip archives ---


def make_zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


@pytest.mark.parametrize("evil", ["../evil.onnx", "sub/../../evil.onnx", "/abs/evil.onnx", "C:/evil.onnx"])
def test_zip_with_escaping_member_is_refused(tmp_path: Path, evil: str) -> None:
    archive = tmp_path / "pack.zip"
    archive.write_bytes(make_zip({"good.onnx": b"ok", evil: b"boom"}))
    target = tmp_path / "out"

    with pytest.raises(DownloadError, match="refusing"):
        extract_zip(archive, target)

    assert not target.exists()
    assert not (tmp_path / "evil.onnx").exists()


def test_zip_members_extracted_by_name_with_hash_check(tmp_path: Path) -> None:
    det, rec = standin_bytes(5000, 3), standin_bytes(7000, 4)
    archive = tmp_path / "pack.zip"
    archive.write_bytes(make_zip({"pack/det.onnx": det, "pack/rec.onnx": rec, "pack/other.onnx": b"x"}))
    target = tmp_path / "out"

    extract_zip(archive, target, only={"det.onnx": (len(det), sha(det))}, flatten=True)
    assert (target / "det.onnx").read_bytes() == det
    assert sorted(p.name for p in target.iterdir()) == ["det.onnx"]

    with pytest.raises(DownloadError, match="does not match"):
        extract_zip(archive, target, only={"rec.onnx": (len(rec), sha(b"nope"))}, flatten=True)
    assert sorted(p.name for p in target.iterdir()) == ["det.onnx"]


# --- model files ---


def pack_entries(server: LocalServer, *, archive_ok: bool = True) -> tuple[list[ModelFile], dict[str, bytes]]:
    det, rec = standin_bytes(30_000, 5), standin_bytes(50_000, 6)
    zipped = make_zip({"det_10g.onnx": det, "w600k_r50.onnx": rec, "genderage.onnx": b"g"})
    zip_url = server.add("/pack.zip", zipped) if archive_ok else server.url("/missing.zip")
    archive = Archive("pack.zip", len(zipped), sha(zipped), "test", (zip_url,))
    files = [
        ModelFile(
            key,
            f"pack/{name}",
            "test",
            True,
            size=len(data),
            sha256=sha(data),
            hash_confirmed=True,
            urls=(server.add(f"/single/{name}", data),),
            archive=archive,
            member=name,
        )
        for key, name, data in (("det", "det_10g.onnx", det), ("rec", "w600k_r50.onnx", rec))
    ]
    return files, {"det_10g.onnx": det, "w600k_r50.onnx": rec}


def test_download_fetches_archive_once_and_extracts_members(server: LocalServer, tmp_path: Path) -> None:
    files, contents = pack_entries(server)
    labels: list[str] = []

    def progress_for(label: str):  # type: ignore[no-untyped-def]
        labels.append(label)
        return lambda d, t: True

    outcomes = download(tmp_path, files, progress_for=progress_for, options=FAST)

    assert [o.action for o in outcomes] == ["extracted", "extracted"]
    for name, data in contents.items():
        assert (tmp_path / "pack" / name).read_bytes() == data
    assert not (tmp_path / "pack" / "genderage.onnx").exists()
    assert len(server.ranges_seen("/pack.zip")) == 1
    assert not (tmp_path / ".downloads").exists()  # the archive is not kept
    assert labels[0] == "pack.zip"

    again = download(tmp_path, files, options=FAST)
    assert [o.action for o in again] == ["present", "present"]
    assert len(server.ranges_seen("/pack.zip")) == 1


def test_cancelled_archive_download_installs_nothing(server: LocalServer, tmp_path: Path) -> None:
    files, _ = pack_entries(server)

    with pytest.raises(DownloadCancelled):
        download(tmp_path, files, progress_for=lambda label: lambda d, t: d < 10_000, options=FAST)

    assert not (tmp_path / "pack").exists()
    assert (tmp_path / ".downloads" / "pack.zip.part").is_file()  # kept for resuming


def test_cancelled_unpacking_keeps_the_verified_archive(server: LocalServer, tmp_path: Path) -> None:
    files, contents = pack_entries(server)

    def progress_for(label: str) -> ProgressCallback:
        return lambda d, t: "unpacking" not in label

    with pytest.raises(DownloadCancelled):
        download(tmp_path, files, progress_for=progress_for, options=FAST)
    assert not any(p.suffix == ".onnx" for p in tmp_path.rglob("*"))

    outcomes = download(tmp_path, files, options=FAST)

    assert [o.action for o in outcomes] == ["extracted", "extracted"]
    assert "kept from an earlier run" in outcomes[0].source
    assert len(server.ranges_seen("/pack.zip")) == 1
    for name, data in contents.items():
        assert (tmp_path / "pack" / name).read_bytes() == data


def test_download_falls_back_to_member_mirrors(server: LocalServer, tmp_path: Path) -> None:
    files, contents = pack_entries(server, archive_ok=False)

    outcomes = download(tmp_path, files, options=FAST)

    assert [o.action for o in outcomes] == ["downloaded", "downloaded"]
    for name, data in contents.items():
        assert (tmp_path / "pack" / name).read_bytes() == data


def test_download_replaces_a_corrupt_file(server: LocalServer, tmp_path: Path) -> None:
    url = server.add("/m.onnx", DATA)
    entry = ModelFile(
        "m", "m.onnx", "test", True, size=len(DATA), sha256=sha(DATA), hash_confirmed=True, urls=(url,)
    )
    (tmp_path / "m.onnx").write_bytes(standin_bytes(len(DATA), seed=9))

    (outcome,) = download(tmp_path, [entry], options=FAST)

    assert outcome.action == "downloaded"
    assert (tmp_path / "m.onnx").read_bytes() == DATA


def test_download_refuses_file_without_source(tmp_path: Path) -> None:
    entry = ModelFile("x", "x.onnx", "test", False, note="make it yourself")
    with pytest.raises(DownloadError, match="make it yourself"):
        download(tmp_path, [entry], options=FAST)
