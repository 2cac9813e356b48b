"""Face masks and the mouth mask: crop-space shapes, and the paste with the inverting stand-in swap."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import cv2
import numpy as np
import pytest
from insightface.model_zoo import get_model

from app.core import masks
from app.core.engine import Engine, SourceFace
from app.core.landmarks import CONTOUR, LIPS_OUTER, MOUTH_CORNERS, Landmarks, landmarks_106, to_crop
from app.core.masks import FaceMaskSpec, MaskMaker, MouthMaskSpec
from app.core.options import SwapOptions
from app.core.paste import FacePaster, crop_region, feather_mask, scaled_inverse
from app.core.sessions import ModelSet
from app.core.swap import align_crop, swap_crop, template_points
from app.core.types import Face, Frame
from app.errors import OptionError
from tests.standins import landmark as standin
from tests.standins import photos

SIZE = 128


@pytest.fixture(scope="module")
def engine(standin_models_dir: Path) -> Engine:
    return Engine(ModelSet(standin_models_dir, ["CPUExecutionProvider"]))


@pytest.fixture(scope="module")
def landmarker(standin_models_dir: Path):  # type: ignore[no-untyped-def]
    with contextlib.redirect_stdout(io.StringIO()):
        return get_model(str(standin_models_dir / "buffalo_l" / "2d106det.onnx"), providers=["CPUExecutionProvider"])


@pytest.fixture(scope="module")
def source(engine: Engine) -> SourceFace:
    return engine.prepare_source(photos.tom_hanks().image)


def crop_landmarks(truth: photos.TruthFace, size: int = SIZE) -> Landmarks:
    _, matrix = align_crop(np.zeros((8, 8, 3), np.uint8), truth.points, size)
    return to_crop(standin.frame_layout(truth.box), matrix)


def swap(engine: Engine, landmarker, frame: Frame, source: SourceFace, faces: list[Face],  # type: ignore[no-untyped-def]
         face_spec: FaceMaskSpec | None = None, mouth: MouthMaskSpec | None = None,
         face_scale: float = 1.0) -> Frame:
    """What the frame processor does per face: align, swap, landmarks, alpha, paste (colour correction off)."""
    face_spec = face_spec or FaceMaskSpec()
    out = frame.copy()
    paster, maker = FacePaster(), MaskMaker()
    for face in faces:
        crop, matrix = align_crop(frame, face.points, SIZE)
        swapped = swap_crop(engine.models.swapper, crop, source.latent)
        marks = landmarks_106(landmarker, frame, face)
        alpha = maker.alpha(SIZE, matrix, face_spec, mouth, marks, face_scale)
        paster.paste(out, swapped, matrix, face_scale=face_scale, mask=alpha)
    return out


# --- shapes in crop space -------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [112, 128, 256, 512])
def test_default_box_is_todays_feathered_mask_bit_for_bit(size: int) -> None:
    assert np.array_equal(masks.face_mask(size, FaceMaskSpec()), feather_mask(size))
    assert MaskMaker().alpha(size, np.eye(2, 3), FaceMaskSpec()) is None  # the paster's own mask, unchanged


def test_box_padding_grows_the_square() -> None:
    small = masks.face_mask(SIZE, FaceMaskSpec("box", padding=-0.05))
    big = masks.face_mask(SIZE, FaceMaskSpec("box", padding=0.05))
    base = feather_mask(SIZE)
    assert (small >= 128).sum() < (base >= 128).sum() < (big >= 128).sum()


@pytest.mark.parametrize("size", [128, 512])
def test_ellipse_covers_the_face_and_not_the_corners(size: int) -> None:
    alpha = masks.face_mask(size, FaceMaskSpec("ellipse"))
    for x, y in template_points(size):  # eyes, nose, mouth corners: fully the swap
        assert alpha[int(round(y)), int(round(x))] == 255
    for y, x in ((0, 0), (0, size - 1), (size - 1, 0), (size - 1, size - 1)):
        assert alpha[y, x] == 0
    assert alpha[int(size * 0.06), int(size * 0.06)] == 0 and alpha[int(size * 0.94), int(size * 0.94)] == 0


def test_hull_covers_the_face_outline_and_forehead_and_not_the_corners() -> None:
    truth = photos.astronaut().faces[0]
    marks = crop_landmarks(truth)
    alpha = masks.face_mask(SIZE, FaceMaskSpec("hull"), marks)
    inner = [38, 88, 86, 52, 61, 71, 53, 49, 104]  # eyes, nose, mouth corners, lips, brows
    for i in inner:
        x, y = marks[i]
        assert alpha[int(round(y)), int(round(x))] >= 250, i
    brows = marks[[49, 104]].mean(axis=0)
    up = marks[[38, 88]].mean(axis=0) - marks[[52, 61]].mean(axis=0)
    fx, fy = brows + 0.35 * up  # halfway to the forehead line
    assert alpha[int(round(fy)), int(round(fx))] >= 250
    for y, x in ((2, 2), (2, SIZE - 3), (SIZE - 3, 2), (SIZE - 3, SIZE - 3)):
        assert alpha[y, x] == 0
    # outside the jaw line, level with the mouth: not the face
    x, y = marks[52]
    left_jaw_x = min(marks[i][0] for i in CONTOUR[:17])  # image-left half of the outline
    assert alpha[int(round(y)), max(0, int(round(left_jaw_x)) - 12)] < 20
    assert alpha[int(round(y)), int(round(x))] >= 250


def test_hull_without_landmarks_falls_back_to_the_ellipse() -> None:
    spec = FaceMaskSpec("hull", padding=0.02, feather=0.05)
    assert np.array_equal(masks.face_mask(SIZE, spec), masks.face_mask(SIZE, FaceMaskSpec("ellipse", 0.02, 0.05)))
    made = MaskMaker().alpha(SIZE, np.eye(2, 3), spec, MouthMaskSpec(), None)
    assert made is not None and np.array_equal(made, masks.face_mask(SIZE, FaceMaskSpec("ellipse", 0.02, 0.05)))


def crossings(profile: np.ndarray, levels: tuple[float, ...]) -> list[float]:
    """Sub-pixel positions where a rising profile, from its lowest point on, first reaches each level."""
    low = int(np.argmin(profile))
    out = []
    for level in levels:
        i = low + int(np.argmax(profile[low:] >= level))
        assert i > low, "profile starts above the level"
        a, b = profile[i - 1], profile[i]
        out.append(i - 1 + (level - a) / (b - a))
    return out


@pytest.mark.parametrize(("padding", "feather"), [(0.0, 0.08), (0.04, 0.1), (-0.03, 0.05)])
def test_ellipse_edge_sits_at_the_padding_with_the_asked_width(padding: float, feather: float) -> None:
    """Along the row through the ellipse's centre: 50 % where the ellipse ends plus the padding, and the
    10-90 % rise as wide as asked."""
    size = 256
    alpha = masks.face_mask(size, FaceMaskSpec("ellipse", padding, feather)).astype(np.float64) / 255.0
    dst = template_points(size)
    eyes, mouth = dst[:2].mean(axis=0), dst[3:].mean(axis=0)
    d = float(np.linalg.norm(mouth - eyes))
    cx, cy = eyes + masks.ELLIPSE_DROP * (mouth - eyes)
    row = alpha[int(round(cy))]
    left_edge = cx - masks.ELLIPSE_AXES[0] * d  # the shape's edge on this row, in pixel coordinates
    p10, p50, p90 = crossings(row[: int(cx)], (0.1, 0.5, 0.9))
    assert abs(p50 - (left_edge - padding * size)) <= 1.0
    assert abs((p90 - p10) - feather * size) <= 1.0 + 0.05 * feather * size


def test_out_of_range_controls_are_refused() -> None:
    with pytest.raises(OptionError, match="mask must be one of"):
        FaceMaskSpec("circle")  # type: ignore[arg-type]
    with pytest.raises(OptionError, match="mask padding"):
        FaceMaskSpec("ellipse", padding=0.5)
    with pytest.raises(OptionError, match="mask feather"):
        FaceMaskSpec("hull", feather=-0.1)
    with pytest.raises(OptionError, match="mouth mask size"):
        MouthMaskSpec(size=2.0)
    with pytest.raises(OptionError, match="mouth mask feather"):
        MouthMaskSpec(feather=float("nan"))


def test_paste_refuses_a_mask_of_the_wrong_size() -> None:
    frame = photos.astronaut().image.copy()
    crop, matrix = align_crop(frame, photos.astronaut().faces[0].points, SIZE)
    with pytest.raises(ValueError, match="128x128 uint8"):
        FacePaster().paste(frame, crop, matrix, mask=np.zeros((64, 64), np.uint8))


# --- the mouth mask, end to end --------------------------------------------------------------------------


def mixing(out: Frame, plain: Frame, original: Frame) -> tuple[np.ndarray, np.ndarray]:
    """Per pixel, how much of the swap `out` shows (0: the original, 1: as much as the plain swap), and
    where that is measurable (the inverting swap changed the pixel a lot)."""
    change = plain.astype(np.float64) - original
    got = out.astype(np.float64) - original
    energy = (change * change).sum(axis=2)
    t = (got * change).sum(axis=2) / np.maximum(energy, 1.0)
    return t, energy > 30.0**2


def region_distance(shape: tuple[int, ...], polygon: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distance of each frame pixel to the lip polygon from outside, and into it from inside."""
    inside = np.zeros(shape[:2], np.uint8)
    cv2.fillPoly(inside, [np.round(polygon * 16).astype(np.int32)], 255, shift=4)
    outside = cv2.distanceTransform(cv2.bitwise_not(inside), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    depth = cv2.distanceTransform(inside, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    return outside, depth


def big_astronaut() -> tuple[Frame, Face]:
    """The astronaut at twice the size (her mouth ~70 px wide), so a soft edge spans many pixels."""
    s = photos.astronaut()
    image = np.ascontiguousarray(cv2.resize(s.image, None, fx=2.0, fy=2.0, interpolation=cv2.INTER_CUBIC))
    truth = s.faces[0].scaled(2.0)
    return image, Face(box=truth.box, points=truth.points, score=0.9)


@pytest.mark.parametrize(("size", "feather"), [(0.1, 0.2), (0.2, 0.1), (0.0, 0.3), (0.05, 0.0)])
def test_mouth_comes_from_the_frame_face_from_the_swap_with_the_asked_soft_edge(
        engine, landmarker, source, size: float, feather: float) -> None:  # type: ignore[no-untyped-def]
    image, face = big_astronaut()
    spec = MouthMaskSpec(size=size, feather=feather)
    plain = swap(engine, landmarker, image, source, [face])
    kept = swap(engine, landmarker, image, source, [face], mouth=spec)
    marks = landmarks_106(landmarker, image, face)
    np.testing.assert_allclose(marks, standin.expected_landmarks(image, face.box), atol=2e-3)  # known points
    width = float(np.linalg.norm(marks[MOUTH_CORNERS[1]] - marks[MOUTH_CORNERS[0]]))
    grow, edge = size * width, feather * width
    assert 60 < width < 90  # frame pixels: a real test of the edge, not of a few pixels

    # Masks are made at the crop's resolution: one crop pixel is `px` frame pixels here.
    _, matrix = align_crop(image, face.points, SIZE)
    inv = scaled_inverse(matrix, SIZE, 1.0)
    px = float(np.hypot(inv[0, 0], inv[1, 0]))
    outside, depth = region_distance(image.shape, marks[list(LIPS_OUTER)])
    # Inside the lips, where the soft edge is spent (alpha > 99.5 %): the original frame, to a level or two.
    deep = depth >= max(edge - grow + px, 1.0)
    if size >= feather:
        assert deep.sum() > 200
    if deep.any():
        assert np.abs(kept[deep].astype(int) - image[deep]).max() <= 2
    # The rest of the face, beyond the soft edge: exactly the plain swap.
    far = outside > grow + 1.3 * edge + 3 * px
    x0, y0, x1, y1 = crop_region(inv, SIZE, image.shape)  # type: ignore[misc]
    face_region = np.zeros(image.shape[:2], bool)
    face_region[y0:y1, x0:x1] = True
    assert np.array_equal(kept[far & face_region], plain[far & face_region])
    assert np.abs(plain.astype(int) - image)[far & face_region].mean() > 40  # the swap is there
    # Nothing outside the face region changes.
    assert np.array_equal(kept[~face_region], image[~face_region])

    # The soft edge, down the column through the lower lip's middle: 50 % at `grow` below the lip and
    # 10 -> 90 % over `edge` (frame pixels).
    t, measurable = mixing(kept, plain, image)
    lip_x, lip_y = marks[53]
    col = int(round(lip_x))
    start = int(np.floor(lip_y + grow - 0.9 * edge - 2 * px))
    rows = np.arange(start, int(np.ceil(lip_y + grow + 0.9 * edge + 2 * px)))
    assert measurable[rows, col].all()
    profile = np.clip(t[rows, col], 0.0, 1.0)
    p10, p50, p90 = crossings(profile, (0.1, 0.5, 0.9))
    assert abs(start + p50 - (lip_y + grow)) <= px + 0.05 * max(edge, grow)
    assert abs((p90 - p10) - edge) <= px + 0.1 * edge


def test_mouth_mask_stays_on_the_frames_mouth_when_the_face_is_scaled(engine, landmarker, source) -> None:  # type: ignore[no-untyped-def]
    image, face = big_astronaut()
    spec = MouthMaskSpec(size=0.2, feather=0.1)
    kept = swap(engine, landmarker, image, source, [face], mouth=spec, face_scale=1.3)
    marks = landmarks_106(landmarker, image, face)
    _, depth = region_distance(image.shape, marks[list(LIPS_OUTER)])
    deep = depth > 1.0
    assert deep.sum() > 500
    assert np.abs(kept[deep].astype(int) - image[deep]).max() <= 2
    plain = swap(engine, landmarker, image, source, [face], face_scale=1.3)
    assert np.abs(plain[deep].astype(int) - image[deep]).mean() > 40


def test_mouth_mask_on_every_face_of_a_group_photo(engine, landmarker, source) -> None:  # type: ignore[no-untyped-def]
    s = photos.t1()
    faces = engine.detect(s.image, SwapOptions())
    assert len(faces) == 6
    kept = swap(engine, landmarker, s.image, source, faces, FaceMaskSpec("ellipse"), MouthMaskSpec(0.2, 0.1))
    regions = []
    for face in faces:
        marks = landmarks_106(landmarker, s.image, face)
        _, depth = region_distance(s.image.shape, marks[list(LIPS_OUTER)])
        deep = depth > 1.0
        assert deep.sum() > 50
        assert np.abs(kept[deep].astype(int) - s.image[deep]).max() <= 2
        eyes = face.points[:2].mean(axis=0).astype(int)  # between the eyes: swapped
        assert np.abs(kept[eyes[1], eyes[0]].astype(int) - s.image[eyes[1], eyes[0]]).max() > 30
        regions.append(crop_region(scaled_inverse(align_crop(s.image, face.points, SIZE)[1], SIZE, 1.0), SIZE,
                                   s.image.shape))
    outside = np.ones(s.image.shape[:2], bool)
    for x0, y0, x1, y1 in regions:
        outside[y0:y1, x0:x1] = False
    assert np.array_equal(kept[outside], s.image[outside])


@pytest.mark.parametrize("shape", ["ellipse", "hull"])
def test_shaped_masks_leave_the_crops_corners_alone(engine, landmarker, source, shape) -> None:  # type: ignore[no-untyped-def]
    """The box shows the swap's square corners on some faces; an ellipse or the outline does not."""
    s = photos.astronaut()
    faces = engine.detect(s.image, SwapOptions())
    shaped = swap(engine, landmarker, s.image, source, faces, FaceMaskSpec(shape))  # type: ignore[arg-type]
    box = swap(engine, landmarker, s.image, source, faces)
    _, matrix = align_crop(s.image, faces[0].points, SIZE)
    inv = scaled_inverse(matrix, SIZE, 1.0)
    for cx, cy in ((14, 14), (SIZE - 15, 14), (14, SIZE - 15), (SIZE - 15, SIZE - 15)):
        x, y = (inv @ np.array([cx, cy, 1.0])).round().astype(int)
        patch = (slice(y - 1, y + 2), slice(x - 1, x + 2))
        # the shaped mask leaves the corner alone (a level of rounding at most)...
        assert np.abs(shaped[patch].astype(int) - s.image[patch]).max() <= 1
        assert np.abs(box[patch].astype(int) - s.image[patch]).mean() > 15  # ...where the box swaps 40 % in
    for x, y in faces[0].points.round().astype(int):  # eyes, nose, mouth corners: swapped by both
        assert np.abs(shaped[y, x].astype(int) - s.image[y, x]).max() > 30
