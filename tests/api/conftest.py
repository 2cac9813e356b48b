"""Fixtures for the API tests: stand-in models, encoded real photos, and a shared test client."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest

from app.api import ApiSettings, create_app
from tests.standins import photos

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # starlette would rather have httpx2; httpx works
    from fastapi.testclient import TestClient

FORBIDDEN = ("/work", "Traceback", "/tmp/", "site-packages")


def png(image: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".png", image)
    assert ok
    return buf.tobytes()


def jpeg(image: np.ndarray, quality: int = 95) -> bytes:
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return buf.tobytes()


def decode(data: bytes) -> np.ndarray:
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None, "the response is not an image"
    return image


def assert_clean(response: object) -> None:
    """No server path or traceback anywhere in a response's headers or (text) body."""
    text = getattr(response, "text", "") if "image" not in response.headers.get("content-type", "") else ""  # type: ignore[attr-defined]
    text += " ".join(f"{k}: {v}" for k, v in response.headers.items())  # type: ignore[attr-defined]
    for word in FORBIDDEN:
        assert word not in text, f"response leaks {word!r}: {text[:300]}"


def assert_error(response: object, status: int, code: str | None = None) -> dict[str, str]:
    assert response.status_code == status, response.text  # type: ignore[attr-defined]
    assert response.headers["content-type"].startswith("application/json")  # type: ignore[attr-defined]
    body: dict[str, str] = response.json()  # type: ignore[attr-defined]
    assert set(body) == {"error", "detail"} and body["detail"]
    if code is not None:
        assert body["error"] == code, body
    assert_clean(response)
    return body


def far_mask(shape: tuple[int, ...], faces: tuple[photos.TruthFace, ...]) -> np.ndarray:
    """Pixels well away (a face's size) from every face."""
    far = np.ones(shape[:2], bool)
    for face in faces:
        x0, y0, x1, y1 = (int(v) for v in face.box)
        w, h = x1 - x0, y1 - y0
        far[max(0, y0 - h):y1 + h, max(0, x0 - w):x1 + w] = False
    return far


def face_change(result: np.ndarray, original: np.ndarray, face: photos.TruthFace) -> float:
    x0, y0 = face.points.min(axis=0).astype(int)
    x1, y1 = face.points.max(axis=0).astype(int)
    return float(np.abs(result[y0:y1, x0:x1].astype(int) - original[y0:y1, x0:x1]).mean())


@dataclass(frozen=True)
class Images:
    t1: bytes
    astronaut: bytes
    tom_hanks: bytes
    blank: bytes
    astronaut_jpeg: bytes
    t1_jpeg: bytes


@pytest.fixture(scope="session")
def images() -> Images:
    return Images(
        t1=png(photos.t1().image),
        astronaut=png(photos.astronaut().image),
        tom_hanks=png(photos.tom_hanks().image),
        blank=png(photos.blank(320, 240)),
        astronaut_jpeg=jpeg(photos.astronaut().image),
        t1_jpeg=jpeg(photos.t1().image),
    )


def make_client(models_dir: Path, **settings: object) -> TestClient:
    return TestClient(create_app(ApiSettings(models_dir=models_dir, **settings)))  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def client(standin_models_dir: Path) -> Iterator[TestClient]:
    """One app over the stand-in models, started (lifespan: models loaded) for the whole module."""
    with make_client(standin_models_dir) as c:
        yield c
