"""Each bad input gets its 4xx with a JSON body naming the problem; never a 500, a path or a traceback."""

from __future__ import annotations

import io
import struct
import threading
import zlib

import pytest
from PIL import Image

from app.api import ApiSettings
from app.api.errors import scrub
from tests.api.conftest import assert_clean, assert_error, make_client

SWAP = "/api/face-swap"
RESTORE = "/api/face-restore"
FRAME = "/api/face-swap-video-frame"


def gif_bytes() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (64, 64), (200, 100, 50)).save(buf, format="GIF")
    return buf.getvalue()


def png_claiming(width: int, height: int) -> bytes:
    """A PNG whose header declares width x height but whose data is a few bytes (a decompression bomb's
    cheap cousin: only the header is ever read)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def post_swap(client, source: bytes, target: bytes, path: str = SWAP, **data: object):
    second = "frame" if path == FRAME else "target_image"
    return client.post(path, data=data, files={"source_face": ("s", source), second: ("t", target)})


@pytest.mark.parametrize("path", [SWAP, FRAME])
def test_not_an_image_is_400(client, images, path):
    body = assert_error(post_swap(client, b"this is not an image", images.t1, path), 400, "invalid_image")
    assert "source_face" in body["detail"]
    body = assert_error(post_swap(client, images.tom_hanks, b"\x00" * 1000, path), 400, "invalid_image")
    assert "target_image" in body["detail"] or "frame" in body["detail"]


def test_restore_not_an_image_is_400(client):
    assert_error(client.post(RESTORE, files={"image": ("x.png", b"GIF? no")}), 400, "invalid_image")


def test_unsupported_format_is_415(client, images):
    body = assert_error(post_swap(client, gif_bytes(), images.t1), 415, "unsupported_format")
    assert "GIF" in body["detail"] and "source_face" in body["detail"]
    assert_error(client.post(RESTORE, files={"image": ("x.gif", gif_bytes())}), 415, "unsupported_format")


def test_empty_file_is_400(client, images):
    assert_error(post_swap(client, b"", images.t1), 400, "invalid_image")


@pytest.mark.parametrize("path,field,value", [
    (SWAP, "blend_strength", "1.5"), (SWAP, "blend_strength", "-0.1"), (SWAP, "blend_strength", "nan"),
    (SWAP, "blend_strength", "inf"), (SWAP, "blend_strength", "lots"), (SWAP, "face_scale", "3"),
    (SWAP, "face_scale", "0.1"), (SWAP, "color_correction", "maybe"), (FRAME, "blend_strength", "2"),
    (RESTORE, "strength", "1.01"), (RESTORE, "denoise_level", "-1"), (RESTORE, "sharpen_amount", "9"),
    (RESTORE, "enhance_details", "sometimes"),
])
def test_out_of_range_parameter_is_422(client, images, path, field, value):
    if path == RESTORE:
        r = client.post(path, data={field: value}, files={"image": ("a.png", images.astronaut)})
    else:
        r = post_swap(client, images.tom_hanks, images.astronaut, path, **{field: value})
    body = assert_error(r, 422, "invalid_parameter")
    assert field in body["detail"]


@pytest.mark.parametrize("path,files,missing", [
    (SWAP, {"source_face": "x"}, "target_image"), (SWAP, {"target_image": "x"}, "source_face"),
    (FRAME, {"source_face": "x"}, "frame"), (RESTORE, {}, "image"),
])
def test_missing_field_is_422(client, images, path, files, missing):
    r = client.post(path, files={k: ("a.png", images.tom_hanks) for k in files} or None,
                    data={"strength": "0.5"} if not files else None)
    body = assert_error(r, 422, "missing_field")
    assert missing in body["detail"]


def test_not_multipart_is_4xx(client):
    r = client.post(SWAP, content=b"{}", headers={"content-type": "application/json"})
    assert_error(r, 422, "missing_field")
    r = client.post(SWAP, content=b"--broken", headers={"content-type": "multipart/form-data; boundary=zz"})
    assert 400 <= r.status_code < 500
    assert_clean(r)


def test_file_over_the_upload_limit_is_413(standin_models_dir, images):
    with make_client(standin_models_dir, max_upload_bytes=100_000, load_models=False) as client:
        assert 1_000_000 > len(images.astronaut) > 100_000 > len(images.tom_hanks)
        body = assert_error(post_swap(client, images.tom_hanks, images.astronaut), 413, "file_too_large")
        assert "target_image" in body["detail"] and "100000" in body["detail"]
        # A body far over the limit is refused from its Content-Length, before it is parsed.
        huge = b"\0" * 1_500_000
        r = client.post(SWAP, content=huge, headers={"content-type": "multipart/form-data; boundary=zz"})
        assert_error(r, 413, "file_too_large")

        def chunks():
            for _ in range(40):
                yield b"\0" * 40_000

        r = client.post(SWAP, content=chunks(), headers={"content-type": "multipart/form-data; boundary=zz"})
        assert_error(r, 413, "file_too_large")


def test_image_over_the_pixel_limit_is_413(standin_models_dir, images):
    with make_client(standin_models_dir, max_pixels=200_000, load_models=False) as client:
        body = assert_error(post_swap(client, images.tom_hanks, images.astronaut), 413, "image_too_large")
        assert "512x512" in body["detail"] and "200000" in body["detail"]


def test_decompression_bomb_header_is_413_without_decoding(client, images):
    body = assert_error(post_swap(client, images.tom_hanks, png_claiming(100_000, 100_000)), 413,
                        "image_too_large")
    assert "target_image" in body["detail"]
    assert_error(post_swap(client, images.tom_hanks, png_claiming(9_000, 9_000)), 413, "image_too_large")


def test_no_face_is_422(client, images):
    body = assert_error(post_swap(client, images.blank, images.t1), 422, "no_face")
    assert "source" in body["detail"]
    body = assert_error(post_swap(client, images.tom_hanks, images.blank), 422, "no_face")
    assert "target_image" in body["detail"]
    assert_error(post_swap(client, images.blank, images.astronaut, FRAME), 422, "no_face")
    assert_error(client.post(RESTORE, files={"image": ("b.png", images.blank)}), 422, "no_face")


def test_missing_models_are_503_naming_the_files(tmp_path, images):
    with make_client(tmp_path / "empty") as client:
        for path in (SWAP, FRAME):
            body = assert_error(post_swap(client, images.tom_hanks, images.t1, path), 503, "models_unavailable")
            for name in ("inswapper_128.onnx", "det_10g.onnx", "w600k_r50.onnx"):
                assert name in body["detail"]
            assert str(tmp_path) not in body["detail"]
        body = assert_error(client.post(RESTORE, files={"image": ("a.png", images.astronaut)}), 503,
                            "models_unavailable")
        assert "GFPGANv1.4" in body["detail"] and "det_10g.onnx" in body["detail"]
        health = client.get("/health").json()
        assert health["status"] == "degraded"
        assert {m["status"] for m in health["models"]} == {"missing"}
        assert client.get("/").json()["models"]["swapper"] is False


def test_corrupt_model_is_503_without_its_path(tmp_path, standin_models_dir, images):
    import shutil

    models = tmp_path / "models"
    shutil.copytree(standin_models_dir, models)
    (models / "inswapper_128.onnx").write_bytes(b"not an onnx file")
    with make_client(models) as client:
        assert client.get("/health").json()["status"] == "degraded"
        body = assert_error(post_swap(client, images.tom_hanks, images.t1), 503, "models_unavailable")
        assert "inswapper_128.onnx" in body["detail"] and str(tmp_path) not in body["detail"]


def test_api_key_is_required_when_set(standin_models_dir, images):
    with make_client(standin_models_dir, api_key="s3cret", load_models=False) as client:
        for headers in ({}, {"X-API-Key": "wrong"}, {"Authorization": "Bearer wrong"}, {"Authorization": "s3cret"}):
            r = client.post(FRAME, headers=headers,
                            files={"source_face": ("s", images.tom_hanks), "frame": ("f", images.astronaut_jpeg)})
            assert_error(r, 401, "unauthorized")
            assert r.headers["www-authenticate"].startswith("ApiKey")
        for headers in ({"X-API-Key": "s3cret"}, {"Authorization": "Bearer s3cret"}):
            r = client.post(FRAME, headers=headers,
                            files={"source_face": ("s", images.tom_hanks), "frame": ("f", images.astronaut_jpeg)})
            assert r.status_code == 200
        # Liveness stays open (a container health check carries no key).
        assert client.get("/health").status_code == 200
        spec = client.get("/openapi.json").json()
        assert "X-API-Key" in str(spec["components"]["securitySchemes"])


def test_api_key_from_the_environment(monkeypatch, standin_models_dir):
    monkeypatch.setenv("DLC_API_KEY", "from-env")
    assert ApiSettings.from_env(models_dir=standin_models_dir).api_key == "from-env"
    assert ApiSettings.from_env(models_dir=standin_models_dir, api_key="given").api_key == "given"
    monkeypatch.delenv("DLC_API_KEY")
    assert ApiSettings.from_env(models_dir=standin_models_dir).api_key is None


def test_cors_is_off_by_default(client):
    pre = client.options(FRAME, headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"})
    assert "access-control-allow-origin" not in pre.headers
    r = client.get("/health", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in r.headers


def test_cors_allows_only_the_configured_origins(standin_models_dir):
    with make_client(standin_models_dir, cors_origins=("https://app.example",), load_models=False) as client:
        ok = client.options(FRAME, headers={"Origin": "https://app.example", "Access-Control-Request-Method": "POST",
                                            "Access-Control-Request-Headers": "X-API-Key"})
        assert ok.headers["access-control-allow-origin"] == "https://app.example"
        bad = client.get("/health", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in bad.headers


def test_busy_pool_answers_503_with_retry_after(standin_models_dir, images):
    with make_client(standin_models_dir, workers=1, queue_limit=0) as client:
        pool = client.app.state.dlc.pool
        release = threading.Event()
        blocker = pool.submit(lambda: release.wait(10))
        try:
            r = post_swap(client, images.tom_hanks, images.astronaut_jpeg, FRAME)
            assert_error(r, 503, "overloaded")
            assert int(r.headers["retry-after"]) >= 1
            assert client.get("/health").json()["pool"]["rejected"] == 1
        finally:
            release.set()
            blocker.result(5)
        assert post_swap(client, images.tom_hanks, images.astronaut_jpeg, FRAME).status_code == 200


def test_unknown_path_and_method_are_json(client):
    assert_error(client.get("/nowhere"), 404, "not_found")
    assert_error(client.get(SWAP), 405, "method_not_allowed")


def test_scrub_keeps_only_file_names():
    assert scrub("file /work/x/models/inswapper_128.onnx is corrupt") == "file inswapper_128.onnx is corrupt"
    assert scrub(r"missing C:\Users\me\models\det_10g.onnx") == "missing det_10g.onnx"
    assert scrub("blend must be between 0.0 and 1.0, got 2/3") == "blend must be between 0.0 and 1.0, got 2/3"
