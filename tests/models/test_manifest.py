"""The manifest's facts are well-formed, and verification tells ok / missing / corrupt / unconfirmed apart."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

from app.models.manifest import (
    DETECTOR,
    INSWAPPER,
    LANDMARK_2D,
    MODEL_FILES,
    RECOGNIZER,
    RESTORER_ONNX,
    RESTORER_PTH,
    ModelFile,
    default_downloads,
    lookup,
    required_files,
)
from app.models.status import Status, sha256_file, verify

HEX64 = re.compile(r"[0-9a-f]{64}")


def test_keys_and_paths_are_unique() -> None:
    assert len({f.key for f in MODEL_FILES}) == len(MODEL_FILES)
    assert len({f.relpath for f in MODEL_FILES}) == len(MODEL_FILES)


@pytest.mark.parametrize("f", MODEL_FILES, ids=lambda f: f.key)
def test_entry_is_complete(f: ModelFile) -> None:
    assert f.purpose and f.licence and f.licence_url and f.provenance
    assert "\\" not in f.relpath and not f.relpath.startswith("/")
    if f.sha256 is not None:
        assert HEX64.fullmatch(f.sha256)
    if f.hash_confirmed:
        assert f.sha256 is not None and f.size is not None and f.size > 0
    for url in f.urls:
        assert url.startswith("https://")
    if f.archive is not None:
        assert f.member and HEX64.fullmatch(f.archive.sha256) and f.archive.provenance
        assert all(u.startswith("https://") for u in f.archive.urls)


def test_required_files_are_downloadable_with_confirmed_hashes() -> None:
    assert required_files() == (INSWAPPER, DETECTOR, RECOGNIZER)
    for f in required_files():
        assert f.hash_confirmed and f.downloadable


def test_official_sources_come_first() -> None:
    assert INSWAPPER.urls[0].startswith("https://github.com/deepinsight/insightface/releases/")
    assert (
        RESTORER_PTH.urls[0] == "https://github.com/TencentARC/GFPGAN/releases/download/v1.3.0/GFPGANv1.4.pth"
    )
    assert DETECTOR.archive is not None and DETECTOR.member == "det_10g.onnx"
    assert DETECTOR.archive.urls[0].startswith("https://github.com/deepinsight/insightface/releases/")
    assert DETECTOR.relpath == "buffalo_l/det_10g.onnx" and RECOGNIZER.relpath == "buffalo_l/w600k_r50.onnx"


def test_onnx_export_has_no_source_and_no_trusted_hash() -> None:
    assert not RESTORER_ONNX.downloadable
    assert not RESTORER_ONNX.hash_confirmed and RESTORER_ONNX.trusted_sha256 is None


def test_default_download_is_swap_plus_landmarks_plus_gfpgan() -> None:
    assert default_downloads(can_convert=True) == (INSWAPPER, DETECTOR, RECOGNIZER, LANDMARK_2D, RESTORER_PTH)
    # the packaged app: no .pth (it cannot convert one), the masks' landmarks still
    assert default_downloads(can_convert=False) == (INSWAPPER, DETECTOR, RECOGNIZER, LANDMARK_2D)


def test_landmarks_for_masks_are_a_hash_checked_default_from_buffalo_l() -> None:
    assert LANDMARK_2D.relpath == "buffalo_l/2d106det.onnx" and not LANDMARK_2D.required
    assert LANDMARK_2D.need == "default" and LANDMARK_2D.fetched_by_default
    assert LANDMARK_2D.hash_confirmed and LANDMARK_2D.trusted_sha256 == LANDMARK_2D.sha256
    assert LANDMARK_2D.size == 5_030_888 and LANDMARK_2D.archive is DETECTOR.archive
    assert LANDMARK_2D.member == "2d106det.onnx" and "mask" in LANDMARK_2D.purpose


def test_lookup_by_key_file_path_and_archive() -> None:
    assert lookup("inswapper") == (INSWAPPER,)
    assert lookup("inswapper_128.onnx") == (INSWAPPER,)
    assert lookup("buffalo_l/w600k_r50.onnx") == (RECOGNIZER,)
    assert lookup("buffalo_l") == (DETECTOR, RECOGNIZER, LANDMARK_2D)
    assert lookup("buffalo_l.zip") == (DETECTOR, RECOGNIZER, LANDMARK_2D)
    assert lookup("landmark-2d106") == lookup("2d106det.onnx") == (LANDMARK_2D,)
    assert lookup("nope") == ()


# --- verification ---


def entry(key: str, data: bytes | None, *, required: bool = True, confirmed: bool = True) -> ModelFile:
    return ModelFile(
        key,
        f"sub/{key}.onnx",
        "test",
        required,
        size=None if data is None else len(data),
        sha256=None if data is None else hashlib.sha256(data).hexdigest(),
        hash_confirmed=confirmed,
    )


def test_verify_reports_each_status(tmp_path: Path) -> None:
    good, other = b"a" * 3000, b"b" * 3000
    files = [
        entry("ok", good),
        entry("missing", good),
        entry("short", good),
        entry("tampered", good),
        entry("local", None, required=False, confirmed=False),
    ]
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub/ok.onnx").write_bytes(good)
    (tmp_path / "sub/short.onnx").write_bytes(good[:-1])
    (tmp_path / "sub/tampered.onnx").write_bytes(other)
    (tmp_path / "sub/local.onnx").write_bytes(other)

    statuses = {s.file.key: s for s in verify(tmp_path, files)}

    assert statuses["ok"].status is Status.OK
    assert statuses["missing"].status is Status.MISSING
    assert statuses["short"].status is Status.CORRUPT and "size" in statuses["short"].detail
    assert statuses["tampered"].status is Status.CORRUPT and "sha256" in statuses["tampered"].detail
    assert statuses["local"].status is Status.UNCONFIRMED
    assert statuses["local"].sha256 == hashlib.sha256(other).hexdigest()
    assert [s.file.key for s in statuses.values() if s.is_problem] == ["missing", "short", "tampered"]


def test_quick_verify_compares_sizes_only(tmp_path: Path) -> None:
    good = b"a" * 100
    files = [entry("m", good)]
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub/m.onnx").write_bytes(b"b" * 100)

    (status,) = verify(tmp_path, files, full=False)

    assert status.status is Status.PRESENT


def test_missing_optional_file_is_not_a_problem(tmp_path: Path) -> None:
    (status,) = verify(tmp_path, [entry("opt", b"x", required=False)])
    assert status.status is Status.MISSING and not status.is_problem



def test_hashing_is_chunked_and_reports_progress(tmp_path: Path) -> None:
    data = bytes(range(256)) * 1000
    path = tmp_path / "f.bin"
    path.write_bytes(data)
    calls: list[tuple[int, int]] = []

    def progress(done: int, total: int) -> bool:
        calls.append((done, total))
        return True

    digest = sha256_file(path, chunk_size=10_000, progress=progress)

    assert digest == hashlib.sha256(data).hexdigest()
    assert len(calls) == 26 and calls[-1] == (len(data), len(data))
