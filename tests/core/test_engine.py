"""The engine on stand-in models and real photos, against insightface's own code as the reference."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from insightface.model_zoo import get_model

from app.core.analysis import detect_faces, embed_face
from app.core.engine import Engine, select_faces
from app.core.options import RestoreOptions, SwapOptions
from app.core.paste import crop_region, scaled_inverse
from app.core.processor import FrameProcessor
from app.core.sessions import ModelSet
from app.core.swap import align_crop
from app.errors import ModelError, NoFaceError, OptionError
from tests.standins import photos

PLAIN = SwapOptions(blend=1.0, color_correction=False)


@pytest.fixture(scope="module")
def engine(standin_models_dir: Path) -> Engine:
    return Engine(ModelSet(standin_models_dir, ["CPUExecutionProvider"]))


def insightface_model(path: Path):
    with contextlib.redirect_stdout(io.StringIO()):
        return get_model(str(path), providers=["CPUExecutionProvider"])


def face_regions(faces, shape, face_scale=1.0):
    regions = []
    for face in faces:
        _, matrix = align_crop(np.zeros((8, 8, 3), np.uint8), face.points, 128)
        regions.append(crop_region(scaled_inverse(matrix, 128, face_scale), 128, shape))
    return regions


def outside_mask(shape, regions):
    mask = np.ones(shape[:2], dtype=bool)
    for x0, y0, x1, y1 in regions:
        mask[y0:y1, x0:x1] = False
    return mask


@pytest.mark.parametrize("scene", [photos.t1, photos.astronaut, photos.tom_hanks])
def test_detection_matches_insightface_scrfd(engine, standin_models_dir, scene):
    s = scene()
    ours = engine.detect(s.image, SwapOptions())
    boxes, points = insightface_model(standin_models_dir / "buffalo_l/det_10g.onnx").detect(
        s.image, input_size=(640, 640))
    assert len(ours) == len(boxes) == len(s.faces)
    for face in ours:  # same faces, possibly in another order
        i = int(np.argmin([np.abs(b[:4] - np.array(face.box)).sum() for b in boxes]))
        assert np.abs(boxes[i][:4] - np.array(face.box)).max() <= 1.0
        assert np.abs(points[i] - face.points).max() <= 1.0
    # ... and they are the photo's real faces
    for truth in s.faces:
        assert min(np.abs(f.points - truth.points).max() for f in ours) <= 1.0


def test_detection_order_is_left_to_right(engine):
    faces = engine.detect(photos.t1().image, SwapOptions())
    xs = [f.center[0] for f in faces]
    assert xs == sorted(xs)


def test_no_face_in_blank_image(engine):
    assert engine.detect(photos.blank(), SwapOptions()) == []
    with pytest.raises(NoFaceError, match="source image"):
        engine.prepare_source(photos.blank())


def test_embedding_matches_arcface_get(engine, standin_models_dir):
    s = photos.t1()
    reference = insightface_model(standin_models_dir / "buffalo_l/w600k_r50.onnx")
    for face in engine.detect(s.image, SwapOptions()):
        ours = embed_face(engine.models.recognizer, s.image, face)
        theirs = reference.get(s.image, SimpleNamespace(kps=face.points))
        np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=2e-4)


def test_source_is_analysed_once(engine):
    image = photos.astronaut().image
    first = engine.prepare_source(image)
    assert engine.prepare_source(image.copy()) is first
    assert engine.prepare_source(photos.tom_hanks().image) is not first


def test_swap_agrees_with_insightface_in_the_face_core(engine, standin_models_dir):
    """Ours and INSwapper.get(paste_back=True) agree where both masks are fully opaque: the face's core
    (the box around eyes and mouth). Bound: at most 3 levels per channel (bilinear rounding differences)."""
    s = photos.t1()
    source = engine.prepare_source(photos.astronaut().image)
    reference = insightface_model(standin_models_dir / "inswapper_128.onnx")
    src = SimpleNamespace(normed_embedding=source.face.normed_embedding)
    for face in engine.detect(s.image, SwapOptions()):
        ours = engine.swap(s.image, [face], [source], PLAIN).frame
        theirs = reference.get(np.array(s.image), SimpleNamespace(kps=face.points), src, paste_back=True)
        x0, y0 = np.floor(face.points.min(axis=0)).astype(int)
        x1, y1 = np.ceil(face.points.max(axis=0)).astype(int)
        core_ours = ours[y0:y1, x0:x1].astype(int)
        core_theirs = theirs[y0:y1, x0:x1].astype(int)
        assert np.abs(core_ours - core_theirs).max() <= 3
        # and the stand-in's inverted face really landed there
        assert np.abs(core_ours - s.image[y0:y1, x0:x1].astype(int)).mean() > 40


def test_pixels_outside_face_regions_are_unchanged(engine):
    s = photos.t1()
    source = engine.prepare_source(photos.astronaut().image)
    result = FrameProcessor(engine).process(s.image, source, SwapOptions())
    assert len(result.faces) == 6
    outside = outside_mask(s.image.shape, face_regions(result.faces, s.image.shape))
    assert outside.mean() > 0.5
    assert np.array_equal(result.frame[outside], s.image[outside])
    for face in result.faces:  # every face changed
        x0, y0 = face.points.min(axis=0).astype(int)
        x1, y1 = face.points.max(axis=0).astype(int)
        assert np.abs(result.frame[y0:y1, x0:x1].astype(int) - s.image[y0:y1, x0:x1]).mean() > 30


def test_largest_replaces_one_face(engine):
    s = photos.t1()
    source = engine.prepare_source(photos.astronaut().image)
    faces = engine.detect(s.image, SwapOptions())
    chosen = select_faces(faces, SwapOptions(faces="largest"))
    assert chosen == [max(faces, key=lambda f: f.area)]
    result = FrameProcessor(engine).process(s.image, source, SwapOptions(faces="largest"))
    assert len(result.faces) == 1
    outside = outside_mask(s.image.shape, face_regions(result.faces, s.image.shape))
    assert np.array_equal(result.frame[outside], s.image[outside])


def test_blend_scales_the_change(engine):
    s = photos.astronaut()
    source = engine.prepare_source(photos.tom_hanks().image)
    faces = engine.detect(s.image, SwapOptions())
    full = engine.swap(s.image, faces, [source] * len(faces), PLAIN).frame.astype(int)
    half = engine.swap(s.image, faces, [source] * len(faces), PLAIN.replace(blend=0.5)).frame.astype(int)
    none = engine.swap(s.image, faces, [source] * len(faces), PLAIN.replace(blend=0.0)).frame
    assert np.array_equal(none, s.image)
    d_full = np.abs(full - s.image).sum()
    d_half = np.abs(half - s.image).sum()
    assert 0.4 < d_half / d_full < 0.6


def test_face_scale_grows_the_region(engine):
    s = photos.astronaut()
    source = engine.prepare_source(photos.tom_hanks().image)
    faces = engine.detect(s.image, SwapOptions())

    def changed_area(scale: float) -> int:
        out = engine.swap(s.image, faces, [source] * len(faces), PLAIN.replace(face_scale=scale)).frame
        return int(np.any(out != s.image, axis=2).sum())

    assert changed_area(1.5) > 1.8 * changed_area(1.0) > 1.8 * 1.8 * changed_area(0.6) * 0.9
    big = engine.swap(s.image, faces, [source] * len(faces), PLAIN.replace(face_scale=1.5)).frame
    outside = outside_mask(s.image.shape, face_regions(faces, s.image.shape, 1.5))
    assert np.array_equal(big[outside], s.image[outside])


def test_colour_correction_moves_colour_towards_the_target(engine):
    """Measured where the correction works: the face crop's opaque part, in crop space."""
    from app.core.paste import FacePaster

    s = photos.astronaut()
    source = engine.prepare_source(photos.tom_hanks().image)
    face = engine.detect(s.image, SwapOptions())[0]
    target_crop, _ = align_crop(s.image, face.points, 128)
    inner = FacePaster().mask >= 128
    target_mean = target_crop[inner].mean(axis=0)

    def mean_error(cc: bool) -> float:
        out = engine.swap(s.image, [face], [source], PLAIN.replace(color_correction=cc)).frame
        crop, _ = align_crop(out, face.points, 128)
        return float(np.abs(crop[inner].mean(axis=0) - target_mean).mean())

    assert mean_error(True) < 0.25 * mean_error(False)


def test_options_are_validated():
    with pytest.raises(OptionError, match="blend"):
        SwapOptions(blend=1.5)
    with pytest.raises(OptionError, match="face scale"):
        SwapOptions(face_scale=3.0)
    with pytest.raises(OptionError):
        SwapOptions(faces="leftmost")  # type: ignore[arg-type]


def test_missing_models_are_named_with_what_to_fetch(tmp_path):
    """The engine names the files and the models to fetch; each front end words how (tests/test_swap_cmd.py)."""
    engine = Engine(ModelSet(tmp_path))
    with pytest.raises(ModelError) as err:
        engine.check_models()
    message = str(err.value)
    for name in ("inswapper_128.onnx", "det_10g.onnx", "w600k_r50.onnx"):
        assert name in message
    assert "deep-live-cam" not in message and err.value.fetch == ("detector", "recognizer", "inswapper")
    with pytest.raises(ModelError) as err:
        engine.check_models(SwapOptions(restore=RestoreOptions()))
    assert "GFPGANv1.4.pth" in str(err.value) and err.value.fetch[-1] == "gfpgan"


def test_corrupt_model_is_reported(tmp_path, standin_models_dir):
    import shutil

    shutil.copytree(standin_models_dir, tmp_path / "m")
    (tmp_path / "m" / "inswapper_128.onnx").write_bytes(b"not an onnx file" * 100)
    models = ModelSet(tmp_path / "m")
    with pytest.raises(ModelError, match="corrupt"):
        _ = models.swapper


def test_wrong_model_in_a_slot_is_reported(tmp_path, standin_models_dir):
    import shutil

    shutil.copytree(standin_models_dir, tmp_path / "m")
    shutil.copy(tmp_path / "m" / "buffalo_l" / "w600k_r50.onnx", tmp_path / "m" / "inswapper_128.onnx")
    with pytest.raises(ModelError, match="not a face swap model"):
        _ = ModelSet(tmp_path / "m").swapper


def test_detect_faces_is_sorted_and_typed(engine):
    faces = detect_faces(engine.models.detector, photos.astronaut().image)
    assert len(faces) == 1 and faces[0].points.dtype == np.float32 and faces[0].points.shape == (5, 2)


@pytest.mark.parametrize("size", [112, 128, 512])
def test_alignment_is_insightfaces(size):
    import warnings

    from insightface.utils import face_align

    for face in photos.t1().faces:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            crop, matrix = face_align.norm_crop2(photos.t1().image, face.points, size)
        ours_crop, ours_matrix = align_crop(photos.t1().image, face.points, size)
        np.testing.assert_allclose(ours_matrix, matrix, rtol=1e-6, atol=1e-6)
        # float rounding of the last bits may flip a warp's fixed-point weight: a level, on a few pixels
        diff = np.abs(ours_crop.astype(int) - crop)
        assert diff.max() <= 1 and diff.mean() < 0.01


def test_decompression_bomb_header_is_refused():
    import io
    import zlib

    from PIL import Image

    from app.core.image_io import decode_image
    from app.errors import InputError

    buf = io.BytesIO()
    Image.new("L", (16, 16)).save(buf, format="PNG")
    data = bytearray(buf.getvalue())
    data[16:24] = (200_000).to_bytes(4, "big") * 2  # IHDR width and height: 200000 x 200000
    data[29:33] = zlib.crc32(bytes(data[12:29])).to_bytes(4, "big")
    with pytest.raises(InputError, match="too large"):
        decode_image(bytes(data), "bomb.png")


def test_a_picked_source_face_is_used_and_cached(engine):
    image = photos.t1().image
    faces = engine.detect(image, SwapOptions())
    largest = engine.prepare_source(image)
    picked = engine.prepare_source(image, face=faces[0])
    assert picked.face.points is not largest.face.points
    assert np.abs(picked.face.points - faces[0].points).max() == 0
    assert not np.allclose(picked.latent, largest.latent)
    assert engine.prepare_source(image, face=faces[0]) is picked


def test_a_detector_with_a_fixed_input_shape_is_honoured(tmp_path, standin_models_dir):
    """A det_10g exported at a fixed 640x640 keeps its size whatever detection size the user asks for."""
    import shutil

    from tests.standins import build_planted_detector

    shutil.copytree(standin_models_dir, tmp_path / "m")
    scenes = [(s.image, s.faces) for s in photos.all_scenes()]
    build_planted_detector(tmp_path / "m" / "buffalo_l" / "det_10g.onnx", scenes, fixed_input=True)
    engine = Engine(ModelSet(tmp_path / "m", ["CPUExecutionProvider"]))
    faces = engine.detect(photos.t1().image, SwapOptions(det_size=320))
    assert len(faces) == 6
    for truth in photos.t1().faces:
        assert min(np.abs(f.points - truth.points).max() for f in faces) <= 1.0
