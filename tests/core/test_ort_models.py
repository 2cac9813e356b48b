"""Our onnxruntime model classes (app/core/ort_models.py, ort_scrfd.py) against insightface's own classes on the
same files: stand-ins with the real conventions, graphs built like the real files, and real photos."""

from __future__ import annotations

import contextlib
import io
import warnings
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import onnx
import pytest
from insightface.app.common import Face as InsightFace
from insightface.model_zoo import get_model
from onnx import TensorProto, helper

from app.core import landmarks as lm
from app.core import ort_models
from app.core.ort_scrfd import OrtSCRFD
from app.core.swap import ARCFACE_DST, align_crop, swap_crop
from app.core.types import Face
from tests.standins import build_planted_detector, photos
from tests.standins.det_real import build_det_10g_like
from tests.standins.inswapper_real import build_inswapper_like
from tests.standins.onnx_file import save_graph

CPU = ["CPUExecutionProvider"]
SCENES = [photos.t1, photos.astronaut, photos.tom_hanks]


def theirs(path: Path, **kwargs: Any) -> Any:
    with contextlib.redirect_stdout(io.StringIO()):
        return get_model(str(path), providers=CPU, **kwargs)


def ours(path: Path, kind: str) -> Any:
    return ort_models.load(path, kind, CPU, "fp32")


@pytest.fixture(scope="module")
def det_like(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A graph built like the real det_10g (58 convs, nine outputs), random weights scoring around 0.5: many
    candidates, so the threshold, the score order and NMS all have work to do."""
    return build_det_10g_like(tmp_path_factory.mktemp("det_like") / "det_10g.onnx", width=0.25)


def assert_same_detections(a: tuple[np.ndarray, np.ndarray | None], b: tuple[np.ndarray, np.ndarray | None],
                           atol: float = 1e-3) -> None:
    """Same faces in the same order: boxes and points within a thousandth of a pixel, scores alike."""
    (det_a, kps_a), (det_b, kps_b) = a, b
    assert det_a.shape == det_b.shape and det_a.dtype == det_b.dtype == np.float32
    np.testing.assert_allclose(det_a[:, :4], det_b[:, :4], atol=atol, rtol=0)
    np.testing.assert_allclose(det_a[:, 4], det_b[:, 4], atol=1e-6, rtol=0)
    assert (kps_a is None) == (kps_b is None)
    if kps_a is not None and kps_b is not None:
        assert kps_a.shape == kps_b.shape
        np.testing.assert_allclose(kps_a, kps_b, atol=atol, rtol=0)


@pytest.mark.parametrize("scene", SCENES, ids=lambda s: s.__name__)
def test_planted_detector_finds_what_insightfaces_scrfd_finds(standin_models_dir: Path, scene: Any) -> None:
    path = standin_models_dir / "buffalo_l" / "det_10g.onnx"
    image = scene().image
    mine = ours(path, "detector")
    assert isinstance(mine, OrtSCRFD) and mine.use_kps and mine.num_anchors == 2 and mine.static_input_size is None
    result = mine.detect(image, input_size=(640, 640))
    assert len(result[0]) == len(scene().faces) > 0
    assert_same_detections(result, theirs(path).detect(image, input_size=(640, 640)))


@pytest.mark.parametrize("size", [(640, 640), (320, 480)], ids=["640", "320x480"])
@pytest.mark.parametrize("image", ["t1", "astronaut", "noise"])
def test_det_10g_like_graph_decodes_like_insightface(det_like: Path, size: tuple[int, int], image: str) -> None:
    frame = {"t1": photos.t1().image, "astronaut": photos.astronaut().image, "noise": photos.noise()}[image]
    # insightface 2.1 runs each size on a session of its own with the size fixed in the graph, whose floats may
    # differ in the last bit, which reorders near-equal scores among a thousand candidates; on one dynamic
    # session like ours the decoding alone is compared, candidate for candidate.
    mine, reference = ours(det_like, "detector"), theirs(det_like, static_shape_sessions=False)
    for threshold in (0.5, 0.6):
        result = mine.detect(frame, input_size=size, det_thresh=threshold)
        assert len(result[0]) > 1  # several candidates survive NMS: the order and suppression are exercised
        assert_same_detections(result, reference.detect(frame, input_size=size, det_thresh=threshold))
    for metric in ("default", "max"):  # the max_num choice among them
        assert_same_detections(mine.detect(frame, input_size=size, max_num=2, metric=metric),
                               reference.detect(frame, input_size=size, max_num=2, metric=metric))


def test_fixed_size_detector_keeps_its_size(tmp_path: Path) -> None:
    scene = photos.astronaut()
    path = build_planted_detector(tmp_path / "det_10g.onnx", [(scene.image, scene.faces)], det_size=(640, 640),
                                  fixed_input=True)
    mine = ours(path, "detector")
    assert mine.static_input_size == (640, 640)
    result = mine.detect(scene.image, input_size=(320, 320))  # asked smaller: the file's size wins, as there
    assert len(result[0]) == 1
    assert_same_detections(result, theirs(path).detect(scene.image, input_size=(320, 320)))


def test_no_candidates_gives_empty_arrays(standin_models_dir: Path) -> None:
    det, kps = ours(standin_models_dir / "buffalo_l" / "det_10g.onnx", "detector").detect(photos.blank())
    assert det.shape == (0, 5) and kps is not None and kps.shape == (0, 5, 2)


def _renamed_first_nodes(src: Path, dst: Path, names: list[str]) -> Path:
    """A copy whose first nodes carry these names (insightface decides a model's input normalisation by them)."""
    model = onnx.load(str(src))
    for node, name in zip(model.graph.node, names, strict=False):
        node.name = name
    onnx.save(model, str(dst))
    return dst


@pytest.mark.parametrize("mxnet_names", [False, True], ids=["plain", "mxnet-style"])
def test_embeddings_equal_arcface_get(standin_models_dir: Path, tmp_path: Path, mxnet_names: bool) -> None:
    path = standin_models_dir / "buffalo_l" / "w600k_r50.onnx"
    if mxnet_names:  # a graph that subtracts and multiplies first takes raw pixels: mean 0, std 1
        path = _renamed_first_nodes(path, tmp_path / "w600k_r50.onnx", ["Sub_0", "Mul_1"])
    mine, reference = ours(path, "recognizer"), theirs(path)
    assert (mine.input_mean, mine.input_std) == (reference.input_mean, reference.input_std)
    assert (mine.input_mean, mine.input_std) == ((0.0, 1.0) if mxnet_names else (127.5, 127.5))
    assert mine.input_size == reference.input_size == (112, 112)
    scene = photos.t1()
    with warnings.catch_warnings():  # insightface's alignment calls a deprecated scikit-image method
        warnings.simplefilter("ignore", FutureWarning)
        for truth in scene.faces:
            crop, _ = align_crop(scene.image, truth.points, 112)
            np.testing.assert_array_equal(mine.get_feat(crop), reference.get_feat(crop))  # the same crop: equal
            # ... and from the photo (insightface aligns with scikit-image: a level apart on a few pixels)
            expected = reference.get(scene.image, SimpleNamespace(kps=truth.points))
            np.testing.assert_allclose(mine.get_feat(crop).flatten(), expected, rtol=1e-4, atol=2e-4)
    crops = [align_crop(scene.image, f.points, 112)[0] for f in scene.faces[:3]]  # a batch, as get_feat takes
    np.testing.assert_array_equal(mine.get_feat(crops), reference.get_feat(crops))


@pytest.mark.parametrize("bn_data", [False, True], ids=["plain", "bn_data"])
def test_landmarks_equal_landmark_get(standin_models_dir: Path, tmp_path: Path, bn_data: bool) -> None:
    path = standin_models_dir / "buffalo_l" / "2d106det.onnx"
    if not bn_data:  # the stand-in normalises in its graph like the real file; without that: mean 127.5, std 128
        path = _renamed_first_nodes(path, tmp_path / "2d106det.onnx", ["a", "b", "c", "d", "e", "f", "g", "h"])
    mine, reference = ours(path, "landmarker"), theirs(path)
    for attr in ("input_mean", "input_std", "input_size", "input_name", "output_names", "lmk_num", "lmk_dim",
                 "taskname"):
        assert getattr(mine, attr) == getattr(reference, attr), attr
    lm.check_landmarker(mine)
    for scene in SCENES:
        s = scene()
        for truth in s.faces:
            face = Face(box=truth.box, points=truth.points, score=0.9)
            got = lm.landmarks_106(mine, s.image, face)
            want = reference.get(s.image, InsightFace(bbox=np.asarray(truth.box, np.float32), kps=truth.points))
            np.testing.assert_allclose(got, want, atol=2e-3)
            np.testing.assert_array_equal(got, lm.landmarks_106(reference, s.image, face))


@pytest.fixture(scope="module")
def swapper_files(standin_models_dir: Path, conv_inswapper_file: Path,
                  tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return {"inverting": standin_models_dir / "inswapper_128.onnx", "convolutional": conv_inswapper_file,
            "real-like": build_inswapper_like(tmp_path_factory.mktemp("inswapper_like") / "inswapper_128.onnx")}


@pytest.mark.parametrize("name", ["inverting", "convolutional", "real-like"])
def test_swapper_equals_inswapper(swapper_files: dict[str, Path], name: str) -> None:
    """emap (the last initializer, after buff2fs in the real-like graph), names and sizes as INSwapper reads them,
    and swap_crop equal to INSwapper's session on the same crop, and to INSwapper.get (paste_back=False) on every
    face of t1."""
    path = swapper_files[name]
    mine, reference = ours(path, "swapper"), theirs(path)
    np.testing.assert_array_equal(mine.emap, reference.emap)
    assert (mine.input_names, mine.output_names, mine.input_size) == (reference.input_names, reference.output_names,
                                                                      reference.input_size)
    scene, source = photos.t1(), np.random.default_rng(0).standard_normal(512).astype(np.float32)
    source /= np.linalg.norm(source)
    latent = (source.reshape(1, -1) @ reference.emap).astype(np.float32)
    latent /= np.linalg.norm(latent)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        for truth in scene.faces:
            crop, _ = align_crop(scene.image, truth.points, 128)
            want, _ = reference.get(scene.image, SimpleNamespace(kps=truth.points),
                                    SimpleNamespace(normed_embedding=source), paste_back=False)
            got = mine.swap_crop(crop, latent)
            np.testing.assert_array_equal(got, swap_crop(reference, crop, latent))  # INSwapper's session, our crop
            # ... and INSwapper.get's own crop (aligned with scikit-image: a level apart on a few pixels, which a
            # convolutional network spreads a little)
            diff = np.abs(got.astype(int) - want)
            assert diff.max() <= 3 and diff.mean() < 0.05


def test_each_file_is_classified_as_insightface_routes_it(standin_models_dir: Path,
                                                         swapper_files: dict[str, Path], det_like: Path) -> None:
    files = {"buffalo_l/det_10g.onnx": "detector", "buffalo_l/w600k_r50.onnx": "recognizer",
             "buffalo_l/2d106det.onnx": "landmarker", "inswapper_128.onnx": "swapper"}
    expected_class = {"detector": "SCRFD", "recognizer": "ArcFaceONNX", "landmarker": "Landmark",
                      "swapper": "INSwapper"}
    paths = [(standin_models_dir / rel, kind) for rel, kind in files.items()]
    paths += [(p, "swapper") for p in swapper_files.values()] + [(det_like, "detector")]
    for path, kind in paths:
        assert ort_models.classify(ort_models.read_graph(path)) == kind
        assert type(theirs(path)).__name__ == expected_class[kind]
    with pytest.raises(ort_models.WrongKind, match="a face recognition model"):
        ours(standin_models_dir / "buffalo_l" / "w600k_r50.onnx", "swapper")
    with pytest.raises(ort_models.WrongKind, match="a face swap model"):
        ours(standin_models_dir / "inswapper_128.onnx", "detector")

def test_a_file_of_no_known_kind_is_refused(tmp_path: Path) -> None:
    """A 100x100 input is none of the shapes insightface routes (and GFPGAN's 512x512 would pass for ArcFace's,
    as it does there: the engine never loads that file through this path)."""
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "odd",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 100, 100])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3, 100, 100])])
    path = save_graph(graph, tmp_path / "odd.onnx")
    assert theirs(path) is None
    with pytest.raises(ort_models.WrongKind, match="no model the engine knows"):
        ours(path, "recognizer")


def test_the_template_is_insightfaces() -> None:
    from insightface.utils import face_align

    np.testing.assert_array_equal(ARCFACE_DST, face_align.arcface_dst)
    assert ARCFACE_DST.dtype == face_align.arcface_dst.dtype == np.float32
