"""Every endpoint through FastAPI's test client with stand-in models and real photos."""

from __future__ import annotations

import numpy as np
import pytest

from tests.api.conftest import Images, assert_clean, decode, face_change, far_mask
from tests.standins import photos


def swap(client, images: Images, **data: object):
    return client.post("/api/face-swap", data=data,
                       files={"source_face": ("source.png", images.tom_hanks, "image/png"),
                              "target_image": ("target.png", images.t1, "image/png")})


def test_root_names_the_api_and_its_models(client):
    r = client.get("/")
    assert r.status_code == 200
    body = r.json()
    assert body["name"] == "Deep Live Cam API" and body["version"]
    assert body["models"] == {"detector": True, "recognizer": True, "swapper": True, "restorer": True,
                              "landmarker": True}
    assert_clean(r)


def test_health_reports_device_models_pool_and_cache(client):
    r = client.get("/health")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok"
    assert "CPUExecutionProvider" in body["device"]["providers"]
    assert body["device"]["cuda"] in (True, False)
    assert {m["name"]: m["status"] for m in body["models"]} == {
        "detector": "loaded", "recognizer": "loaded", "swapper": "loaded", "restorer": "loaded",
        "landmarker": "loaded"}
    assert body["pool"]["workers"] == 2 and body["pool"]["queue_limit"] == 8
    assert set(body["source_cache"]) >= {"hits", "misses", "size"}
    assert_clean(r)


def test_docs_redoc_and_openapi_document_the_fields(client):
    assert client.get("/docs").status_code == 200
    assert client.get("/redoc").status_code == 200
    spec = client.get("/openapi.json").json()
    assert set(spec["paths"]) == {"/", "/health", "/api/face-swap", "/api/face-restore",
                                  "/api/face-swap-video-frame"}

    def fields(path: str) -> dict[str, object]:
        ref = spec["paths"][path]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]["$ref"]
        props = spec["components"]["schemas"][ref.rsplit("/", 1)[1]]["properties"]
        return {name: prop.get("default") for name, prop in props.items()}

    # The original backend's fields keep their names and defaults (the options schema adds the rest: every
    # field reaching every front end is tests/core/test_options_reach.py's job).
    assert fields("/api/face-swap").items() >= {"source_face": None, "target_image": None, "blend_strength": 0.8,
                                                "color_correction": True, "face_scale": 1.0}.items()
    assert fields("/api/face-restore").items() >= {"image": None, "strength": 0.5, "denoise_level": 0.3,
                                                   "sharpen_amount": 0.2, "enhance_details": True}.items()
    assert fields("/api/face-swap-video-frame").items() >= {"source_face": None, "frame": None,
                                                            "blend_strength": 0.8}.items()


def test_face_swap_changes_every_face_and_nothing_far_away(client, images):
    r = swap(client, images)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "image/png"
    assert r.headers["x-faces-swapped"] == "6"
    result, scene = decode(r.content), photos.t1()
    assert result.shape == scene.image.shape
    for face in scene.faces:
        assert face_change(result, scene.image, face) > 30, face.name
    far = far_mask(result.shape, scene.faces)
    assert np.array_equal(result[far], scene.image[far])  # PNG: far pixels bit-for-bit
    assert_clean(r)


def test_face_swap_options_reach_the_engine(client, images):
    scene = photos.t1()
    full = decode(swap(client, images, blend_strength=1.0).content)
    light = decode(swap(client, images, blend_strength=0.2).content)
    none = decode(swap(client, images, blend_strength=0.0).content)
    face = scene.faces[0]
    assert face_change(full, scene.image, face) > face_change(light, scene.image, face) > 1.0
    assert face_change(none, scene.image, face) < 1.0
    plain = decode(swap(client, images, color_correction="false").content)
    assert not np.array_equal(plain, decode(swap(client, images).content))
    bigger = swap(client, images, face_scale=1.5)
    assert bigger.status_code == 200
    assert not np.array_equal(decode(bigger.content), decode(swap(client, images).content))


def test_face_restore_changes_the_face_only(client, images):
    r = client.post("/api/face-restore", files={"image": ("a.png", images.astronaut, "image/png")},
                    data={"strength": 1.0})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "image/png"
    assert r.headers["x-faces-restored"] == "1"
    result, scene = decode(r.content), photos.astronaut()
    assert face_change(result, scene.image, scene.faces[0]) > 10
    far = far_mask(result.shape, scene.faces)
    assert np.array_equal(result[far], scene.image[far])


@pytest.mark.parametrize("field,value", [("strength", 0.0), ("denoise_level", 1.0), ("sharpen_amount", 1.0),
                                         ("enhance_details", "false")])
def test_face_restore_fields_reach_the_engine(client, images, field, value):
    def restore(**data: object) -> np.ndarray:
        r = client.post("/api/face-restore", files={"image": ("a.png", images.astronaut)}, data=data)
        assert r.status_code == 200, r.text
        return decode(r.content)

    default = restore()
    changed = restore(**{field: value})
    assert not np.array_equal(default, changed)
    if field == "strength":  # nothing of the restored face is used
        assert face_change(changed, photos.astronaut().image, photos.astronaut().faces[0]) < 1.0


def test_video_frame_swaps_and_reuses_the_source(client, images):
    def cache() -> dict[str, int]:
        return dict(client.get("/health").json()["source_cache"])

    def frame(source: bytes):
        return client.post("/api/face-swap-video-frame",
                           files={"source_face": ("s.png", source), "frame": ("f.jpg", images.astronaut_jpeg)})

    before = cache()
    first = frame(images.t1)  # a source not sent before in this module
    assert first.status_code == 200, first.text
    assert first.headers["content-type"] == "image/jpeg"
    assert first.headers["x-faces-swapped"] == "1"
    assert first.headers["x-source-cache"] == "miss"
    for _ in range(3):
        again = frame(images.t1)
        assert again.headers["x-source-cache"] == "hit"
        assert again.content == first.content
    after = cache()
    assert after["misses"] == before["misses"] + 1
    assert after["hits"] == before["hits"] + 3
    scene = photos.astronaut()
    result = decode(first.content)
    assert face_change(result, scene.image, scene.faces[0]) > 30
    far = far_mask(result.shape, scene.faces)
    # JPEG both ways: far pixels within compression noise of the original.
    assert np.abs(result[far].astype(int) - scene.image[far]).mean() < 3.0


def test_video_frame_without_a_face_comes_back_unchanged(client, images):
    r = client.post("/api/face-swap-video-frame",
                    files={"source_face": ("s.png", images.tom_hanks), "frame": ("f.png", images.blank)})
    assert r.status_code == 200
    assert r.headers["x-faces-swapped"] == "0"
    assert np.abs(decode(r.content).astype(int) - photos.blank(320, 240)).max() <= 2


def test_video_frame_blend_strength(client, images):
    def frame(blend: float) -> np.ndarray:
        r = client.post("/api/face-swap-video-frame", data={"blend_strength": blend},
                        files={"source_face": ("s.png", images.tom_hanks), "frame": ("f.jpg", images.astronaut_jpeg)})
        assert r.status_code == 200
        return decode(r.content)

    scene = photos.astronaut()
    assert face_change(frame(1.0), scene.image, scene.faces[0]) > face_change(frame(0.3), scene.image,
                                                                               scene.faces[0])
