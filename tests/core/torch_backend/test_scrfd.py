"""det_10g on torch against insightface's SCRFD.detect on onnxruntime, on the same files and photos."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch

from app.core.torch_backend import load_detector
from app.core.torch_backend.precision import Bound
from app.core.torch_backend.scrfd import TorchSCRFD
from tests.core.torch_backend.conftest import CPU, insightface_model
from tests.standins import letterbox_blob, photos

DET = (640, 640)


def assert_same_detections(expected: tuple[np.ndarray, np.ndarray], got: tuple[np.ndarray, np.ndarray | None],
                           tol: float = 1.0) -> None:
    """Same faces within `tol` px (boxes and points) and scores within 1e-3, paired by position: order among
    nearly equal scores may differ by float rounding."""
    (dets, kpss), (gdets, gkpss) = expected, got
    assert gkpss is not None and gdets.dtype == np.float32 and gkpss.dtype == np.float32
    assert gdets.shape == dets.shape and gkpss.shape == kpss.shape
    left = list(range(len(gdets)))
    for i in range(len(dets)):
        j = min(left, key=lambda k: float(np.abs(gdets[k, :4] - dets[i, :4]).sum()))
        left.remove(j)
        assert np.abs(gdets[j, :4] - dets[i, :4]).max() < tol
        assert np.abs(gkpss[j] - kpss[i]).max() < tol
        assert abs(gdets[j, 4] - dets[i, 4]) < 1e-3


@pytest.fixture(scope="module")
def like_real(torch_models: dict[str, Path]) -> TorchSCRFD:
    return TorchSCRFD.load(torch_models["det"], "cpu", precision="fp32")


@pytest.mark.parametrize("size", [(640, 640), (320, 256)])
def test_det_like_graph_detects_what_insightface_detects(torch_models: dict[str, Path], like_real: TorchSCRFD,
                                                         size: tuple[int, int]) -> None:
    reference = insightface_model(torch_models["det"])
    image = photos.t1().image
    for threshold in (0.5, 0.8):
        expected = reference.detect(image, input_size=size, det_thresh=threshold)
        assert len(expected[0]) >= 3  # enough candidates for NMS to matter
        assert_same_detections(expected, like_real.detect(image, input_size=size, det_thresh=threshold), 0.01)
    # the raw heads, before decoding
    blob, _ = letterbox_blob(image, size)
    refs = ort.InferenceSession(str(torch_models["det"]), providers=CPU).run(None, {"input.1": blob})
    for got, ref in zip(like_real.forward_blob(torch.from_numpy(blob)), refs, strict=True):
        assert np.abs(got.numpy() - ref).max() < 1e-3


def test_max_num_and_metric_as_insightface(torch_models: dict[str, Path], like_real: TorchSCRFD) -> None:
    reference = insightface_model(torch_models["det"])
    image = photos.t1().image
    for metric in ("default", "max"):
        expected = reference.detect(image, input_size=DET, max_num=3, metric=metric, det_thresh=0.5)
        got = like_real.detect(image, input_size=DET, max_num=3, metric=metric, det_thresh=0.5)
        assert len(got[0]) == 3
        assert_same_detections(expected, got, 0.01)


@pytest.mark.parametrize("scene", photos.all_scenes(), ids=lambda s: s.name)
def test_planted_detector_on_torch_from_host_and_device_frames(standin_models_dir: Path,
                                                               scene: photos.Scene) -> None:
    path = standin_models_dir / "buffalo_l" / "det_10g.onnx"
    reference = insightface_model(path)
    detector = load_detector(path, device="cpu", precision="fp32")
    expected = reference.detect(scene.image, input_size=DET)
    assert len(expected[0]) == len(scene.faces)
    assert_same_detections(expected, detector.detect(scene.image, input_size=DET))
    assert_same_detections(expected, detector.detect_tensor(torch.tensor(scene.image), input_size=DET))


def test_tracking_detector_follows_content_on_torch(standin_tracking: object) -> None:
    from tests.standins import TrackingScene

    assert isinstance(standin_tracking, TrackingScene)
    reference = insightface_model(standin_tracking.detector)
    detector = TorchSCRFD.load(standin_tracking.detector, "cpu", precision="fp32")
    for dx, dy in ((0, 0), (24, -8), (-40, 16)):
        frame, _ = standin_tracking.frame(dx, dy)
        expected = reference.detect(frame, input_size=DET)
        assert len(expected[0]) > 0
        assert_same_detections(expected, detector.detect(frame, input_size=DET))
        assert_same_detections(expected, detector.detect_tensor(torch.tensor(frame), input_size=DET))


def test_device_letterbox_is_cv2s_within_a_level(like_real: TorchSCRFD) -> None:
    for image in (photos.t1().image, photos.astronaut().image, photos.noise(300, 200)):
        for size in ((640, 640), (320, 256)):
            expected, scale = letterbox_blob(image, size)
            got, got_scale = like_real._letterbox_tensor(torch.tensor(image), size)
            assert got_scale == scale and got.shape == expected.shape
            assert float(np.abs(got.numpy() - expected).max()) * 128 <= 1.0 + 1e-4


def test_nothing_found_gives_empty_arrays(standin_models_dir: Path) -> None:
    detector = TorchSCRFD.load(standin_models_dir / "buffalo_l" / "det_10g.onnx", "cpu")
    dets, kpss = detector.detect(photos.noise(), input_size=DET)
    assert dets.shape == (0, 5) and kpss is not None and kpss.shape == (0, 5, 2)


def test_fp16_detector_keeps_heads_in_fp32(torch_models: dict[str, Path], like_real: TorchSCRFD) -> None:
    half = TorchSCRFD.load(torch_models["det"], "cpu", precision="fp16")
    net = half.net_for(DET)
    assert net.precision == "fp16"
    module = net.module
    convs = [m for m in module.modules() if isinstance(m, torch.nn.Conv2d)]
    assert sum(c.weight.dtype == torch.float16 for c in convs) == 58 - 9  # all but the 9 score/box/point heads
    blob, _ = letterbox_blob(photos.t1().image, DET)
    for a, b in zip(half.forward_blob(torch.from_numpy(blob)), like_real.forward_blob(torch.from_numpy(blob)),
                    strict=True):
        assert a.dtype == torch.float32 and float((a - b).abs().mean()) < 0.01


def test_fp16_guard_trips_on_a_tighter_bound(torch_models: dict[str, Path], caplog: pytest.LogCaptureFixture
                                             ) -> None:
    with caplog.at_level(logging.WARNING, logger="app.core.torch_backend"):
        detector = TorchSCRFD.load(torch_models["det"], "cpu", precision="fp16", fp16_bound=Bound(0.0, 0.0))
    assert detector.net_for(DET).precision == "fp32"
    assert "fp16 rejected" in caplog.text and "differs from fp32" in caplog.text
