"""106-point landmarks: the stand-in loads as insightface's Landmark, ours agree with Landmark.get, and a
missing model is reported with what to download."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import numpy as np
import pytest
from insightface.app.common import Face as InsightFace
from insightface.model_zoo import get_model
from onnx import TensorProto, helper, numpy_helper

from app.core import landmarks as lm
from app.core.types import Face
from app.errors import ModelError
from tests.standins import landmark as standin
from tests.standins import photos
from tests.standins.onnx_file import save_graph

SCENES = [photos.t1, photos.astronaut, photos.tom_hanks]


def load(path: Path):  # type: ignore[no-untyped-def]
    with contextlib.redirect_stdout(io.StringIO()):
        return get_model(str(path), providers=["CPUExecutionProvider"])


@pytest.fixture(scope="module")
def model(standin_models_dir: Path):  # type: ignore[no-untyped-def]
    return load(standin_models_dir / "buffalo_l" / "2d106det.onnx")


def as_face(truth: photos.TruthFace) -> Face:
    return Face(box=truth.box, points=truth.points, score=0.9)


def test_standin_loads_as_insightfaces_106_point_model(model) -> None:  # type: ignore[no-untyped-def]
    assert type(model).__name__ == "Landmark"
    assert (model.input_mean, model.input_std) == (0.0, 1.0)  # like the real file: it normalises in-graph
    assert model.input_size == (192, 192) and model.input_name == "data" and model.output_names == ["fc1"]
    assert (model.lmk_num, model.lmk_dim, model.taskname) == (106, 2, "landmark_2d_106")
    lm.check_landmarker(model)


@pytest.mark.parametrize("scene", SCENES, ids=lambda s: s.__name__)
def test_landmarks_match_insightfaces_landmark_get(model, scene) -> None:  # type: ignore[no-untyped-def]
    s = scene()
    for truth in s.faces:
        ours = lm.landmarks_106(model, s.image, as_face(truth))
        theirs = model.get(s.image, InsightFace(bbox=np.asarray(truth.box, np.float32), kps=truth.points))
        assert ours.shape == (106, 2) and ours.dtype == np.float32
        np.testing.assert_allclose(ours, theirs, atol=2e-3)
        # ... and the stand-in's own numpy reference (independent of insightface) agrees
        np.testing.assert_allclose(ours, standin.expected_landmarks(s.image, truth.box), atol=2e-3)


def test_content_moves_the_standins_points_so_the_differential_test_can_fail(model) -> None:  # type: ignore[no-untyped-def]
    """On a photo the brightness centroid moves the points; on a flat frame they are the bare layout."""
    s = photos.astronaut()
    truth = s.faces[0]
    on_photo = lm.landmarks_106(model, s.image, as_face(truth))
    assert np.abs(on_photo - standin.frame_layout(truth.box)).max() > 0.5
    flat = photos.blank(512, 512)
    np.testing.assert_allclose(lm.landmarks_106(model, flat, as_face(truth)), standin.frame_layout(truth.box),
                               atol=2e-3)


def test_crop_transform_is_insightfaces() -> None:
    import warnings

    from insightface.utils import face_align

    box = (100.0, 50.0, 190.0, 170.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _, theirs = face_align.transform(photos.t1().image, (145.0, 110.0), 192, 192 / (120 * 1.5), 0)
    np.testing.assert_allclose(lm.crop_transform(box), theirs, atol=1e-9)


def test_index_groups_cover_each_point_once() -> None:
    groups = (lm.CONTOUR, lm.BROW_LEFT, lm.BROW_RIGHT, lm.EYE_LEFT, lm.EYE_RIGHT, lm.PUPILS, lm.NOSE,
              lm.LIPS_OUTER, lm.LIPS_INNER)
    every = [i for g in groups for i in g]
    assert sorted(every) == list(range(106))
    assert set(lm.FIVE_POINTS) <= set(every) and set(lm.MOUTH_CORNERS) <= set(lm.LIPS_OUTER)


def test_the_five_point_subset_lands_on_the_stand_ins_eyes_nose_and_mouth() -> None:
    """The stand-in's layout was drawn on ArcFace's template in insightface's order; the five-point subset
    [38, 88, 86, 52, 61] of it is that template (the layout the masks rely on)."""
    from insightface.utils import face_align

    five = standin.template_layout()[list(lm.FIVE_POINTS)]
    np.testing.assert_allclose(five, face_align.arcface_dst, atol=0.05)


def test_a_68_point_3d_model_is_refused(tmp_path: Path) -> None:
    """1k3d68.onnx also loads as insightface's Landmark (3309 outputs); it must not pass for 2d106det."""
    nodes = [
        helper.make_node("ReduceMean", ["data"], ["m"], name="pool", axes=[1, 2, 3], keepdims=0),
        helper.make_node("Mul", ["m", "row"], ["fc1"], name="spread"),
    ]
    graph = helper.make_graph(
        nodes, "1k3d68_standin",
        [helper.make_tensor_value_info("data", TensorProto.FLOAT, ["None", 3, 192, 192])],
        [helper.make_tensor_value_info("fc1", TensorProto.FLOAT, ["None", 3309])],
        initializer=[numpy_helper.from_array(np.zeros((1, 3309), np.float32), "row")],
    )
    wrong = load(save_graph(graph, tmp_path / "1k3d68.onnx"))
    assert type(wrong).__name__ == "Landmark" and wrong.lmk_num == 68
    with pytest.raises(ModelError, match="106-point"):
        lm.check_landmarker(wrong)


def test_missing_model_says_what_to_download(tmp_path: Path, standin_models_dir: Path) -> None:
    message = lm.missing_landmark_message(tmp_path)
    assert message is not None
    for text in ("buffalo_l/2d106det.onnx", "5.0 MB", "goes on without"):
        assert text in message
    with pytest.raises(lm.LandmarkModelMissing) as err:
        lm.check_landmark_model_present(tmp_path)
    assert isinstance(err.value, ModelError) and str(err.value) == message
    assert err.value.fetch == ("landmark-2d106",)  # each front end words how to fetch it
    assert lm.missing_landmark_message(standin_models_dir) is None
    lm.check_landmark_model_present(standin_models_dir)


def test_landmarks_follow_the_five_points() -> None:
    s = photos.astronaut()
    truth = s.faces[0]
    points = standin.frame_layout(truth.box)
    angle, scale, shift = np.deg2rad(7.0), 1.1, np.array([12.0, -5.0])
    rot = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    moved_five = (truth.points @ rot.T + shift).astype(np.float32)
    followed = lm.follow_landmarks(points, truth.points, moved_five)
    np.testing.assert_allclose(followed, points @ rot.T + shift, atol=0.05)
