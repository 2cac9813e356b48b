"""The stand-ins load through insightface's real loaders and behave as their docstrings promise."""

from __future__ import annotations

import warnings
from pathlib import Path

import cv2
import insightface.model_zoo as model_zoo
import numpy as np
import onnx
import pytest
from insightface.app.common import Face as InsightFace  # noqa: E402
from insightface.model_zoo.arcface_onnx import ArcFaceONNX  # noqa: E402
from insightface.model_zoo.inswapper import INSwapper  # noqa: E402
from insightface.model_zoo.scrfd import SCRFD  # noqa: E402

from tests.standins import (
    DETECTOR_OUTPUT_NAMES,
    TrackingScene,
    build_planted_detector,
    build_tracking_detector,
    photos,
)
from tests.standins.inswapper import expected_output

CPU = ["CPUExecutionProvider"]
DET = (640, 640)


def load(path: Path):  # type: ignore[no-untyped-def]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return model_zoo.get_model(str(path), providers=CPU)


def insight_face(face: photos.TruthFace) -> InsightFace:
    return InsightFace(
        bbox=np.asarray(face.box, np.float32), kps=face.points.astype(np.float32), det_score=0.9
    )


def match(dets: np.ndarray, kpss: np.ndarray, truth: list[photos.TruthFace]) -> tuple[float, float]:
    """Largest box and point errors, pairing each true face with the nearest detection (one each)."""
    assert len(dets) == len(truth)
    box_err = pts_err = 0.0
    left = list(range(len(dets)))
    for face in truth:
        j = min(left, key=lambda k: float(np.abs(dets[k, :4] - face.box).sum()))
        left.remove(j)
        box_err = max(box_err, float(np.abs(dets[j, :4] - face.box).max()))
        pts_err = max(pts_err, float(np.abs(kpss[j] - face.points).max()))
    return box_err, pts_err


@pytest.fixture(scope="module")
def detector(standin_models_dir: Path) -> SCRFD:
    return load(standin_models_dir / "buffalo_l" / "det_10g.onnx")


@pytest.fixture(scope="module")
def recognizer(standin_models_dir: Path) -> ArcFaceONNX:
    return load(standin_models_dir / "buffalo_l" / "w600k_r50.onnx")


@pytest.fixture(scope="module")
def swapper(standin_models_dir: Path) -> INSwapper:
    return load(standin_models_dir / "inswapper_128.onnx")


# ------------------------------------------------------------------------------------------ files and loaders


def test_models_dir_layout_and_routing(
    standin_models_dir: Path, detector: SCRFD, recognizer: ArcFaceONNX, swapper: INSwapper
) -> None:
    assert isinstance(detector, SCRFD)
    assert detector.use_kps and detector.fmc == 3 and detector._num_anchors == 2
    assert detector.input_name == "input.1" and detector.output_names == list(DETECTOR_OUTPUT_NAMES)
    assert detector.static_input_size is None  # dynamic '?' x '?' like the real det_10g

    assert isinstance(recognizer, ArcFaceONNX)
    assert (recognizer.input_mean, recognizer.input_std) == (127.5, 127.5)  # treated like w600k_r50
    assert recognizer.input_size == (112, 112) and recognizer.output_names == ["683"]

    assert isinstance(swapper, INSwapper)
    assert swapper.input_names == ["target", "source"] and swapper.output_names == ["output"]
    assert swapper.emap.shape == (512, 512) and swapper.emap.dtype == np.float32
    assert np.linalg.cond(swapper.emap) < 10
    graph = onnx.load(str(standin_models_dir / "inswapper_128.onnx")).graph
    assert graph.initializer[-1].name == "emap"


# ------------------------------------------------------------------------------------------ planted detector


@pytest.mark.parametrize("scene", photos.all_scenes(), ids=lambda s: s.name)
def test_planted_detector_returns_the_scene_faces(detector: SCRFD, scene: photos.Scene) -> None:
    dets, kpss = detector.detect(scene.image, input_size=DET)
    box_err, pts_err = match(dets, kpss, list(scene.faces))
    assert box_err < 1.0 and pts_err < 1.0
    assert np.all(dets[:, 4] > 0.8)


def test_planted_detector_default_sizes_still_find_the_faces(detector: SCRFD) -> None:
    # insightface 2.1's SCRFD runs every DEFAULT_DET_SIZES ((128,128) and (640,640)) when no size is given;
    # the planted maps answer only at 640.
    dets, kpss = detector.detect(photos.t1().image)
    assert match(dets, kpss, list(photos.t1().faces))[0] < 1.0


@pytest.mark.parametrize("name", ["blank", "noise", "shifted", "flipped", "other_size"])
def test_planted_detector_finds_nothing_elsewhere(detector: SCRFD, name: str) -> None:
    t1 = photos.t1().image
    image = {
        "blank": photos.blank(),
        "noise": photos.noise(),
        "shifted": photos.place(t1, [], (1280, 886), (16, 0))[0],
        "flipped": np.ascontiguousarray(t1[:, ::-1]),
        "other_size": t1,
    }[name]
    size = (320, 320) if name == "other_size" else DET
    dets, _ = detector.detect(image, input_size=size)
    assert len(dets) == 0


def test_planted_detector_fixed_input(tmp_path: Path) -> None:
    scene = photos.astronaut()
    path = build_planted_detector(
        tmp_path / "det_fixed.onnx", [(scene.image, scene.faces)], det_size=DET, fixed_input=True
    )
    det = load(path)
    assert isinstance(det, SCRFD)
    assert det.static_input_size == DET
    assert det.session.get_inputs()[0].shape == [1, 3, 640, 640]
    dets, kpss = det.detect(scene.image)
    assert match(dets, kpss, list(scene.faces))[0] < 1.0
    # a fixed graph is honoured whatever size is asked for
    dets, kpss = det.detect(scene.image, input_size=(320, 320))
    assert match(dets, kpss, list(scene.faces))[1] < 1.0
    assert len(det.detect(photos.blank())[0]) == 0


def test_planted_detector_other_det_size_and_faces_on_one_stride(tmp_path: Path) -> None:
    # det size 320 puts t1's six faces (~50 px at det scale... ~25 px here) all on stride 8
    scene = photos.t1()
    det = load(
        build_planted_detector(tmp_path / "det320.onnx", [(scene.image, scene.faces)], det_size=(320, 320))
    )
    dets, kpss = det.detect(scene.image, input_size=(320, 320))
    assert max(match(dets, kpss, list(scene.faces))) < 1.0
    assert len(det.detect(scene.image, input_size=DET)[0]) == 0


# ------------------------------------------------------------------------------------------ tracking detector


def test_tracking_detector_follows_a_pan(standin_tracking: TrackingScene) -> None:
    det = load(standin_tracking.detector)
    assert isinstance(det, SCRFD)
    # det_scale is 1 here: detections land on the 8-px anchor grid, at most 6 px (half a step plus half a
    # template cell) from the truth
    for dx, dy in [(0, 0), (8, -8), (3, 0), (4, 4), (5, -3), (-13, 7), (21, 11), (-30, -5)]:
        frame, truth = standin_tracking.frame(dx, dy)
        dets, kpss = det.detect(frame, input_size=DET)
        box_err, pts_err = match(dets, kpss, truth)
        assert box_err <= 6.0 and pts_err <= 6.0, (dx, dy, box_err)
        if dx % 8 == 0 and dy % 8 == 0:
            assert box_err < 1.0 and pts_err < 1.0
    assert len(det.detect(photos.blank(640, 360), input_size=DET)[0]) == 0
    assert len(det.detect(photos.astronaut().image, input_size=DET)[0]) == 0


def test_tracking_detector_through_a_downscaling_letterbox(tmp_path: Path) -> None:
    # 1280x720 frames at det size 640: det_scale 0.5, so the grid is 16 frame pixels
    scene = photos.astronaut()
    frame, faces = photos.place(scene.image, scene.faces, (1280, 720), (400, 100))
    det = load(build_tracking_detector(tmp_path / "det_track.onnx", frame, faces, det_size=DET))
    for dx, dy in [(0, 0), (16, -32), (7, 3), (-40, 21)]:
        moved, truth = photos.place(scene.image, scene.faces, (1280, 720), (400 + dx, 100 + dy))
        dets, kpss = det.detect(moved, input_size=DET)
        assert match(dets, kpss, truth)[0] <= 12.0, (dx, dy)


# ------------------------------------------------------------------------------------------ recognizer


def test_recognizer_embeddings(recognizer: ArcFaceONNX) -> None:
    embs, jittered = [], []
    for scene in photos.all_scenes():
        for face in scene.faces:
            e = recognizer.get(scene.image, insight_face(face))
            assert e.shape == (512,)
            assert np.array_equal(e, recognizer.get(scene.image, insight_face(face)))  # deterministic
            embs.append(e / np.linalg.norm(e))
            moved = photos.TruthFace(face.name, face.box, face.points + np.float32(1.0))
            j = recognizer.get(scene.image, insight_face(moved))
            jittered.append(j / np.linalg.norm(j))
    e = np.array(embs)
    sims = e @ e.T
    off = sims[~np.eye(len(e), dtype=bool)]
    assert off.max() < 0.5
    same = np.sum(e * np.array(jittered), axis=1)
    assert same.min() > 0.9 > off.max() + 0.3


def test_recognizer_batches_like_single_faces(recognizer: ArcFaceONNX) -> None:
    tom = photos.tom_hanks().image
    flipped = np.ascontiguousarray(tom[:, ::-1])
    both = recognizer.get_feat([tom, flipped])
    assert both.shape == (2, 512)
    np.testing.assert_allclose(both[0], recognizer.get_feat(tom)[0], atol=1e-5)
    np.testing.assert_allclose(both[1], recognizer.get_feat(flipped)[0], atol=1e-5)


# ------------------------------------------------------------------------------------------ inswapper


def test_inswapper_inverts_the_target_and_follows_the_source(
    swapper: INSwapper, recognizer: ArcFaceONNX
) -> None:
    from insightface.utils import face_align

    target_scene = photos.astronaut()
    target = insight_face(target_scene.faces[0])
    sources = []
    for face in photos.t1().faces[:2]:
        src = insight_face(face)
        recognizer.get(photos.t1().image, src)
        sources.append(src)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        aligned, _ = face_align.norm_crop2(target_scene.image, target.kps, 128)
    outs = [swapper.get(target_scene.image, target, src, paste_back=False)[0] for src in sources]
    for out, src in zip(outs, sources, strict=True):
        assert out.shape == (128, 128, 3) and out.dtype == np.uint8
        # inverted face plus a tint of at most 0.15
        assert np.abs((255 - aligned.astype(int)) - out).max() <= 0.15 * 255 + 2
        latent = src.normed_embedding.reshape(1, -1) @ swapper.emap
        latent /= np.linalg.norm(latent)
        blob = cv2.dnn.blobFromImage(aligned, 1.0 / 255.0, (128, 128), (0, 0, 0), swapRB=True)
        ref = expected_output(blob, latent.astype(np.float32))
        bgr = np.clip(255 * ref[0].transpose(1, 2, 0), 0, 255).astype(np.uint8)[:, :, ::-1]
        assert np.abs(bgr.astype(int) - out).max() <= 1
    # a different source face gives a visibly different tint
    assert np.abs(outs[0].astype(int) - outs[1]).mean(axis=(0, 1)).max() > 5
    pasted = swapper.get(target_scene.image, target, sources[0], paste_back=True)
    x1, y1, x2, y2 = map(int, target_scene.faces[0].box)
    assert np.abs(pasted[y1:y2, x1:x2].astype(int) - target_scene.image[y1:y2, x1:x2]).mean() > 50


def test_conv_inswapper_keeps_the_real_contract(conv_inswapper_file: Path, recognizer: ArcFaceONNX) -> None:
    """The convolutional stand-in: opset 11, emap last and unused, an INSwapper to insightface; its output
    follows the target face, changes with the source and is not saturated (so quantisation error shows)."""
    model = onnx.load(str(conv_inswapper_file))
    assert model.opset_import[0].version == 11 and model.graph.initializer[-1].name == "emap"
    assert all("emap" not in n.input for n in model.graph.node)
    assert {"Conv", "Pad", "ReduceMean", "Gemm", "Unsqueeze", "Slice", "Resize", "Tanh"} <= {
        n.op_type for n in model.graph.node}
    swapper = load(conv_inswapper_file)
    assert isinstance(swapper, INSwapper) and swapper.emap.shape == (512, 512)
    assert np.linalg.cond(swapper.emap) == pytest.approx(2.0, rel=1e-3)

    target_scene = photos.astronaut()
    target = insight_face(target_scene.faces[0])
    sources = []
    for face in photos.t1().faces[:2]:
        src = insight_face(face)
        recognizer.get(photos.t1().image, src)
        sources.append(src)
    from insightface.utils import face_align

    with warnings.catch_warnings():  # insightface's alignment calls a deprecated scikit-image method
        warnings.simplefilter("ignore")
        aligned, _ = face_align.norm_crop2(target_scene.image, target.kps, 128)
        outs = [swapper.get(target_scene.image, target, src, paste_back=False)[0] for src in sources]
    out = outs[0]
    gray = cv2.cvtColor(out, cv2.COLOR_BGR2GRAY).astype(float)
    assert np.corrcoef(gray.ravel(), cv2.cvtColor(aligned, cv2.COLOR_BGR2GRAY).astype(float).ravel())[0, 1] > 0.6
    assert ((out <= 1) | (out >= 254)).mean() < 0.05 and out.std() > 30
    assert np.abs(outs[0].astype(int) - outs[1]).mean() > 2  # another identity, another picture
