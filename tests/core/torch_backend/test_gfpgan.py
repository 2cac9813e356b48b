"""GFPGAN v1.4 on torch from the .pth, against the ONNX export of the same checkpoint on onnxruntime."""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch

from app.core import probe
from app.core.torch_backend import load_restorer
from app.core.torch_backend.gfpgan import FP16_BOUND, TorchRestorer
from app.errors import ModelError
from app.models.gfpgan_convert import ensure_restorer_onnx
from tests.core.torch_backend.conftest import CPU
from tests.models.test_gfpgan_convert import SMALL, small_state, write_pth

LEVELS = 127.5  # outputs span [-1, 1]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A small-config GFPGANv1.4.pth and its ONNX export (the file the onnxruntime restorer runs)."""
    root = tmp_path_factory.mktemp("gfpgan")
    pth = write_pth(root / "GFPGANv1.4.pth", {"params_ema": small_state(seed=0)})
    return pth, ensure_restorer_onnx(root, SMALL)


def faces() -> np.ndarray:
    """Two 64x64 faces in [-1, 1]: the aligned probe face and a noisy one."""
    face = probe.rgb_blob(probe.face_crop(64), 1.0 / 127.5, -1.0)
    noisy = np.clip(face + np.random.default_rng(0).normal(0, 0.2, face.shape), -1, 1).astype(np.float32)
    return np.concatenate([face, noisy])


@pytest.fixture(scope="module")
def restorer(checkpoint: tuple[Path, Path]) -> TorchRestorer:
    return TorchRestorer.load(checkpoint[0], "cpu", precision="fp32", config=SMALL)


def test_restores_like_the_onnx_export(checkpoint: tuple[Path, Path], restorer: TorchRestorer) -> None:
    session = ort.InferenceSession(str(checkpoint[1]), providers=CPU)
    batch = faces()
    together = restorer.restore_blob(batch)
    assert together.shape == batch.shape and together.dtype == np.float32
    assert together.min() >= -1.0 and together.max() <= 1.0
    for i in range(len(batch)):
        expected = session.run(None, {"input": batch[i: i + 1]})[0]
        alone = restorer.restore_blob(batch[i: i + 1])
        assert np.abs(alone - expected).max() * LEVELS < 0.05
        assert np.abs(together[i: i + 1] - alone).max() * LEVELS < 0.05  # a batch equals one at a time


def test_restore_crop_is_run_gfpgan(checkpoint: tuple[Path, Path], restorer: TorchRestorer) -> None:
    from app.core.restore import run_gfpgan

    session = ort.InferenceSession(str(checkpoint[1]), providers=CPU)
    crop = probe.face_crop(64)
    got = restorer.restore_crop(crop)
    assert got.dtype == np.uint8 and got.shape == crop.shape
    assert np.abs(got.astype(int) - run_gfpgan(session, crop)).max() <= 1


def test_fp16_restorer(checkpoint: tuple[Path, Path], restorer: TorchRestorer) -> None:
    half = load_restorer(checkpoint[0], device="cpu", precision="fp16", config=SMALL)
    assert half.info.precision == "fp16" and not half.info.notes
    batch = torch.from_numpy(faces())
    diff = (half.restore(batch) - restorer.restore(batch)).abs() * LEVELS
    assert float(diff.mean()) < 0.5 and float(diff.max()) < 4


def test_fp16_guard_trips_on_a_tighter_bound(checkpoint: tuple[Path, Path], caplog: pytest.LogCaptureFixture
                                             ) -> None:
    with caplog.at_level(logging.WARNING, logger="app.core.torch_backend"):
        restorer = TorchRestorer.load(checkpoint[0], "cpu", precision="fp16", config=SMALL,
                                      fp16_bound=replace(FP16_BOUND, mean=0.0, p99=0.0))
    assert restorer.info.precision == "fp32"
    assert "fp16 rejected" in caplog.text and "levels" in caplog.text


def test_checkpoint_problems_are_model_errors(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="does not exist"):
        TorchRestorer.load(tmp_path / "GFPGANv1.4.pth", "cpu")
    foreign = write_pth(tmp_path / "other.pth", {"params_ema": {"conv.weight": torch.zeros(3, 3)}})
    with pytest.raises(ModelError, match="not a GFPGAN v1.4 checkpoint"):
        TorchRestorer.load(foreign, "cpu", config=SMALL)
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"<html>not found</html>")
    with pytest.raises(ModelError, match="not a PyTorch file"):
        TorchRestorer.load(junk, "cpu")


def test_bad_input_is_refused(restorer: TorchRestorer) -> None:
    with pytest.raises(ValueError, match="N x 3 x 64 x 64"):
        restorer.restore(torch.zeros(1, 3, 32, 32))
