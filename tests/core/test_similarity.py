"""The closed-form similarity fit against scikit-image's SimilarityTransform (Umeyama), which it replaces."""

from __future__ import annotations

import numpy as np
import pytest
from skimage import transform

from app.core.restore import FFHQ_512
from app.core.similarity import similarity_fit
from app.core.swap import alignment_matrix
from tests.standins import photos


def skimage_fit(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    tform = transform.SimilarityTransform.from_estimate(src.astype(np.float64), dst.astype(np.float64))
    assert tform
    return np.asarray(tform.params[:2], dtype=np.float64)


def cases() -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(3)
    template = photos.arcface_points().astype(np.float64)
    out = [(f.points, template * (128 / 112) + [8.0, 0.0]) for s in photos.all_scenes() for f in s.faces]
    out += [(f.points, FFHQ_512) for f in photos.t1().faces]
    for _ in range(20):  # noisy similarities, and a mirrored set (the best proper similarity, no reflection)
        src = rng.uniform(0, 500, (5, 2))
        angle, scale = rng.uniform(-np.pi, np.pi), rng.uniform(0.2, 5.0)
        rot = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
        out.append((src, src @ rot.T + rng.uniform(-300, 300, 2) + rng.normal(0, 3, (5, 2))))
    out.append((template, template * [-1.0, 1.0]))
    return out


def test_fit_equals_skimage_umeyama() -> None:
    for src, dst in cases():
        np.testing.assert_allclose(similarity_fit(src, dst), skimage_fit(src, dst), rtol=0, atol=1e-8)


def test_alignment_matrix_equals_the_skimage_estimate_on_real_faces() -> None:
    for scene in photos.all_scenes():
        for face in scene.faces:
            for size in (112, 128, 256):
                dst = photos.arcface_points() * (size / 112.0 if size % 112 == 0 else size / 128.0)
                if size % 112:
                    dst[:, 0] += 8.0 * size / 128.0
                np.testing.assert_allclose(alignment_matrix(face.points, size), skimage_fit(face.points, dst),
                                           rtol=0, atol=1e-8)


@pytest.mark.parametrize("points", [np.zeros((5, 2)), np.full((5, 2), np.nan), np.ones((1, 2))])
def test_degenerate_points_are_refused(points: np.ndarray) -> None:
    with pytest.raises(ValueError):
        similarity_fit(points, photos.arcface_points()[: len(points)])
    if len(points) == 5:
        with pytest.raises(ValueError, match="degenerate"):
            alignment_matrix(points.astype(np.float32), 128)
