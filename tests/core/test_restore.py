"""Restoration on real photos with the stand-in GFPGAN export: each control does what its name says,
inside the face regions only."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import cv2
import numpy as np
import pytest

from app.core.engine import Engine
from app.core.options import RestoreOptions, SwapOptions
from app.core.paste import crop_region, scaled_inverse
from app.core.processor import FrameProcessor, ProcessedFrame
from app.core.restore import SIZE, align_ffhq
from app.core.sessions import ModelSet
from tests.standins import photos

NEUTRAL = RestoreOptions(strength=1.0, denoise=0.0, sharpen=0.0, enhance_details=False)


@pytest.fixture(scope="module")
def engine(standin_models_dir: Path) -> Engine:
    return Engine(ModelSet(standin_models_dir, ["CPUExecutionProvider"]))


def restore(engine: Engine, image: np.ndarray, options: RestoreOptions) -> ProcessedFrame:
    """A photo's faces restored, as the restore command and endpoint do it."""
    return FrameProcessor(engine, restore_only=True).process(image, None, SwapOptions(restore=options))


def regions(faces, shape):
    out = []
    for face in faces:
        _, matrix = align_ffhq(np.zeros((8, 8, 3), np.uint8), face.points)
        out.append(crop_region(scaled_inverse(matrix, SIZE, 1.0), SIZE, shape))
    return out


def outside(shape, regs):
    mask = np.ones(shape[:2], bool)
    for x0, y0, x1, y1 in regs:
        mask[y0:y1, x0:x1] = False
    return mask


def core(frame, face):
    x0, y0 = face.points.min(axis=0).astype(int)
    x1, y1 = face.points.max(axis=0).astype(int)
    return frame[y0:y1, x0:x1]


def high_freq(patch) -> float:
    grey = cv2.cvtColor(np.ascontiguousarray(patch), cv2.COLOR_BGR2GRAY).astype(np.float32)
    return float(np.abs(grey - cv2.GaussianBlur(grey, (0, 0), 1.5)).mean())


def local_contrast(patch) -> float:
    grey = cv2.cvtColor(np.ascontiguousarray(patch), cv2.COLOR_BGR2GRAY).astype(np.float32)
    mean = cv2.blur(grey, (15, 15))
    return float(np.sqrt(np.maximum(cv2.blur(grey * grey, (15, 15)) - mean * mean, 0)).mean())


def test_every_face_restored_and_nothing_else(engine):
    s = photos.t1()
    result = restore(engine, s.image, RestoreOptions())
    assert len(result.faces) == 6
    for face in result.faces:
        assert np.abs(core(result.frame, face).astype(int) - core(s.image, face)).mean() > 10
    mask = outside(s.image.shape, regions(result.faces, s.image.shape))
    assert mask.mean() > 0.3
    assert np.array_equal(result.frame[mask], s.image[mask])


def test_strength_scales_the_change(engine):
    s = photos.astronaut()
    face = engine.detect(s.image, SwapOptions())[0]

    def change(strength: float) -> float:
        out = restore(engine, s.image, dataclasses.replace(NEUTRAL, strength=strength)).frame
        return float(np.abs(core(out, face).astype(int) - core(s.image, face)).mean())

    assert change(0.0) == 0.0
    assert 0.4 < change(0.5) / change(1.0) < 0.6


def test_denoise_removes_noise(engine):
    """Noise that reaches the output: |R(noisy) - R(clean)| in the face, with and without denoise."""
    s = photos.astronaut()
    noisy = np.clip(s.image.astype(int) + np.random.default_rng(0).normal(0, 12, s.image.shape), 0, 255)
    noisy = noisy.astype(np.uint8)
    face = engine.detect(s.image, SwapOptions())[0]
    denoise = RestoreOptions(1.0, denoise=1.0, sharpen=0.0, enhance_details=False)

    def residual(options: RestoreOptions) -> float:
        a = restore(engine, noisy, options).frame
        b = restore(engine, s.image, options).frame
        return float(np.abs(core(a, face).astype(int) - core(b, face)).mean())

    assert residual(denoise) < 0.6 * residual(NEUTRAL)
    denoised = restore(engine, noisy, denoise).frame
    mask = outside(s.image.shape, regions([face], s.image.shape))
    assert np.array_equal(denoised[mask], noisy[mask])


def test_sharpen_adds_detail(engine):
    s = photos.astronaut()
    face = engine.detect(s.image, SwapOptions())[0]
    plain = restore(engine, s.image, NEUTRAL).frame
    sharp = restore(engine, s.image, RestoreOptions(1.0, denoise=0.0, sharpen=1.0,
                                                                   enhance_details=False)).frame
    assert high_freq(core(sharp, face)) > 1.5 * high_freq(core(plain, face))


def test_enhance_details_raises_local_contrast(engine):
    s = photos.astronaut()
    face = engine.detect(s.image, SwapOptions())[0]
    plain = restore(engine, s.image, NEUTRAL).frame
    enhanced = restore(engine, s.image, RestoreOptions(1.0, denoise=0.0, sharpen=0.0,
                                                                      enhance_details=True)).frame
    assert local_contrast(core(enhanced, face)) > 1.1 * local_contrast(core(plain, face))


def test_swap_with_restore_changes_the_swapped_face(engine):
    s = photos.t1()
    source = engine.prepare_source(photos.astronaut().image)
    swapped = FrameProcessor(engine).process(s.image, source, SwapOptions())
    restored = FrameProcessor(engine).process(s.image, source, SwapOptions(restore=RestoreOptions()))
    assert restored.timings["restore"] > 0
    for face in swapped.faces:
        assert np.abs(core(restored.frame, face).astype(int) - core(swapped.frame, face)).mean() > 5
    mask = outside(s.image.shape, regions(swapped.faces, s.image.shape))
    assert np.array_equal(restored.frame[mask], s.image[mask])


def test_restorer_of_the_wrong_shape_is_refused(tmp_path, standin_models_dir):
    import shutil

    from app.errors import ModelError

    shutil.copytree(standin_models_dir, tmp_path / "m")
    shutil.copy(tmp_path / "m" / "inswapper_128.onnx", tmp_path / "m" / "GFPGANv1.4.onnx")
    with pytest.raises(ModelError, match="not a GFPGAN v1.4 export"):
        _ = ModelSet(tmp_path / "m").restorer


def test_restore_follows_the_scaled_face(engine):
    """With face scale 1.5 the restorer aligns on the enlarged swapped face, not the original one."""
    from app.core.engine import scaled_face
    from app.core.swap import align_crop

    s = photos.astronaut()
    face = engine.detect(s.image, SwapOptions())[0]
    _, matrix = align_crop(s.image, face.points, 128)
    big = scaled_face(face, matrix, 128, 1.5)
    # the paste-back scales about the aligned crop's centre, so the points do the same
    centre = cv2.invertAffineTransform(matrix) @ np.array([64.0, 64.0, 1.0])
    np.testing.assert_allclose(big.points, centre + 1.5 * (face.points - centre), atol=1e-3)
    assert abs(big.eye_distance / face.eye_distance - 1.5) < 1e-3
    assert big.area > 2.0 * face.area
