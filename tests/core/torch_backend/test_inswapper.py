"""inswapper on torch against insightface's INSwapper on onnxruntime: same swaps, batches, fused vs generic,
the fp16 guard, and the fallbacks."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
import torch

from app.core import probe
from app.core.swap import source_latent, swap_crop
from app.core.torch_backend import ConversionError, load_swapper
from app.core.torch_backend.inswapper import TorchInswapper
from tests.core.torch_backend.conftest import insightface_model
from tests.standins import build_inswapper, photos

EMBEDDINGS = np.random.default_rng(11).standard_normal((3, 512)).astype(np.float32)


def crops() -> list[np.ndarray]:
    """Three 128 crops: the aligned probe face, a crop of t1.jpg, the astronaut's face region."""
    t1, astro = photos.t1().image, photos.astronaut().image
    import cv2

    return [probe.face_crop(128), cv2.resize(t1[100:400, 250:550], (128, 128)),
            cv2.resize(astro[50:300, 120:370], (128, 128))]


def blobs(images: list[np.ndarray]) -> torch.Tensor:
    return torch.from_numpy(np.concatenate([probe.rgb_blob(c) for c in images]))


@pytest.fixture(scope="module")
def fused(torch_models: dict[str, Path]) -> TorchInswapper:
    return TorchInswapper.load(torch_models["inswapper"], "cpu", precision="fp32")


@pytest.fixture(scope="module")
def generic(torch_models: dict[str, Path]) -> TorchInswapper:
    return TorchInswapper.load(torch_models["inswapper"], "cpu", precision="fp32", fused=False)


def test_swaps_equal_insightface_within_a_level(torch_models: dict[str, Path], fused: TorchInswapper,
                                                generic: TorchInswapper) -> None:
    reference = insightface_model(torch_models["inswapper"])
    assert fused.info.implementation == "fused" and generic.info.implementation == "generic"
    assert fused.info.batched and generic.info.batched and fused.info.precision == "fp32"
    np.testing.assert_array_equal(fused.emap, reference.emap)
    for crop, embedding in zip(crops(), EMBEDDINGS, strict=True):
        latent = fused.latent(embedding)
        np.testing.assert_array_equal(latent, source_latent(reference, embedding))
        expected = swap_crop(reference, crop, latent).astype(int)
        for swapper in (fused, generic):
            got = swapper.swap_crop(crop, latent)
            assert got.dtype == np.uint8 and got.shape == (128, 128, 3)
            assert np.abs(got - expected).max() <= 1


def test_fused_module_equals_the_generic_conversion(fused: TorchInswapper, generic: TorchInswapper) -> None:
    x = blobs(crops())
    lat = torch.from_numpy(np.concatenate([fused.latent(e) for e in EMBEDDINGS]))
    a, b = fused.swap(x, lat), generic.swap(x, lat)
    assert a.shape == (3, 3, 128, 128) and a.dtype == torch.float32
    assert float((a - b).abs().max()) * 255 < 0.05


@pytest.mark.parametrize("which", ["fused", "generic"])
def test_a_batch_equals_one_face_at_a_time(which: str, fused: TorchInswapper, generic: TorchInswapper) -> None:
    swapper = fused if which == "fused" else generic
    x = blobs(crops())
    lat = torch.from_numpy(np.concatenate([swapper.latent(e) for e in EMBEDDINGS]))
    together = swapper.swap(x, lat)
    apart = torch.cat([swapper.swap(x[i: i + 1], lat[i: i + 1]) for i in range(3)])
    assert float((together - apart).abs().max()) * 255 < 0.05
    # one source for every face: a [1,512] latent broadcasts
    shared = swapper.swap(x, lat[:1])
    assert float((shared[2] - swapper.swap(x[2:], lat[:1])[0]).abs().max()) * 255 < 0.05
    assert float((shared[2] - together[2]).abs().max()) > 0.01  # the latent matters


def test_batch_pinned_graph_goes_face_by_face(torch_models: dict[str, Path], caplog: pytest.LogCaptureFixture
                                             ) -> None:
    path = torch_models["inswapper_pinned"]
    with caplog.at_level(logging.WARNING, logger="app.core.torch_backend"):
        swapper = TorchInswapper.load(path, "cpu", precision="fp32", fused=False)
    assert not swapper.info.batched
    assert "one by one" in caplog.text
    reference = insightface_model(path)
    images = crops()
    lat = np.concatenate([swapper.latent(e) for e in EMBEDDINGS])
    out = swapper.swap(blobs(images), torch.from_numpy(lat))
    for i, crop in enumerate(images):
        expected = swap_crop(reference, crop, lat[i: i + 1]).astype(int)
        got = np.clip(255.0 * out[i].permute(1, 2, 0).numpy(), 0, 255).astype(np.uint8)[:, :, ::-1]
        assert np.abs(got - expected).max() <= 1
    # the fused module reads the pinned reshape as what it means and runs batches
    assert TorchInswapper.load(path, "cpu", precision="fp32").info.batched


def test_fp16_is_used_when_it_agrees(torch_models: dict[str, Path], fused: TorchInswapper) -> None:
    for use_fused in (True, False):
        half = TorchInswapper.load(torch_models["inswapper"], "cpu", precision="fp16", fused=use_fused)
        assert half.info.precision == "fp16" and not half.info.notes
        x = blobs(crops())
        lat = torch.from_numpy(fused.latent(EMBEDDINGS[0]))
        diff = (half.swap(x, lat) - fused.swap(x, lat)).abs() * 255
        assert float(diff.mean()) < 0.5 and float(diff.max()) < 4


@pytest.mark.parametrize("use_fused", [True, False], ids=["fused", "generic"])
def test_fp16_guard_falls_back_to_fp32_on_overflow(use_fused: bool, torch_models: dict[str, Path],
                                                   caplog: pytest.LogCaptureFixture) -> None:
    """A conv whose fp16 output overflows (the AdaIN after it would normalise it away in fp32): the fp16
    network gives NaN, the guard sees it, fp32 is used and the log says why."""
    path = torch_models["inswapper_overflow"]
    with caplog.at_level(logging.WARNING, logger="app.core.torch_backend"):
        swapper = TorchInswapper.load(path, "cpu", precision="fp16", fused=use_fused)
    assert swapper.info.precision == "fp32"
    assert "fp16 rejected" in caplog.text and "NaN/Inf" in caplog.text
    reference = insightface_model(path)
    crop, latent = crops()[1], swapper.latent(EMBEDDINGS[1])
    expected = swap_crop(reference, crop, latent).astype(int)
    assert np.abs(swapper.swap_crop(crop, latent) - expected).max() <= 1


def test_auto_precision_is_fp32_on_the_cpu(torch_models: dict[str, Path]) -> None:
    assert TorchInswapper.load(torch_models["inswapper"], "cpu").info.precision == "fp32"


def test_fused_module_that_disagrees_is_not_used(torch_models: dict[str, Path], caplog: pytest.LogCaptureFixture
                                                 ) -> None:
    with caplog.at_level(logging.WARNING, logger="app.core.torch_backend"):
        swapper = TorchInswapper.load(torch_models["inswapper"], "cpu", precision="fp32", fused_bound_levels=-1.0)
    assert swapper.info.implementation == "generic"
    assert "differs from the generic conversion" in caplog.text


def test_graph_without_the_fused_structure_runs_generic(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """The small stand-in inswapper (MatMul tint, batch pinned by a reshape) still runs, face by face."""
    path = build_inswapper(tmp_path / "inswapper_128.onnx")
    with caplog.at_level(logging.WARNING, logger="app.core.torch_backend"):
        swapper = load_swapper(path, device="cpu", precision="fp32")
    assert swapper.info.implementation == "generic" and not swapper.info.batched
    assert "no fused module" in caplog.text
    reference = insightface_model(path)
    crop, latent = crops()[0], swapper.latent(EMBEDDINGS[0])
    np.testing.assert_array_equal(swapper.swap_crop(crop, latent), swap_crop(reference, crop, latent))


def test_not_an_inswapper_file(standin_models_dir: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="app.core.torch_backend"), pytest.raises(
            ConversionError, match="not an inswapper_128 file"):
        load_swapper(standin_models_dir / "buffalo_l" / "w600k_r50.onnx", device="cpu")
    assert "the swapper runs on onnxruntime instead" in caplog.text


def test_an_op_onnx2torch_lacks_falls_back_with_one_log_line(torch_models: dict[str, Path], tmp_path: Path,
                                                             caplog: pytest.LogCaptureFixture) -> None:
    """The inswapper-like graph with one Relu written as Shrink (same values, an op without a converter):
    onnxruntime (insightface) runs it, torch refuses it with ConversionError and one WARNING line."""
    import onnx

    model = onnx.load(str(torch_models["inswapper"]))
    relu = next(n for n in model.graph.node if n.op_type == "Relu")
    relu.op_type = "Shrink"  # bias 0, lambd 0: x for x != 0 (not a relu, but a valid graph all the same)
    path = tmp_path / "inswapper_128.onnx"
    onnx.save(model, str(path))
    with caplog.at_level(logging.WARNING, logger="app.core.torch_backend"), pytest.raises(
            ConversionError, match="no converter for Shrink"):
        load_swapper(path, device="cpu")
    assert len(caplog.records) == 1 and "runs on onnxruntime instead" in caplog.text
    reference = insightface_model(path)
    assert swap_crop(reference, crops()[0], reference_latent(reference)).shape == (128, 128, 3)


def reference_latent(reference: object) -> np.ndarray:
    return source_latent(reference, EMBEDDINGS[0])


def test_bad_crops_are_refused(fused: TorchInswapper) -> None:
    with pytest.raises(ValueError, match="N x 3 x 128 x 128"):
        fused.swap(torch.zeros(1, 3, 112, 112), torch.zeros(1, 512))
    with pytest.raises(ValueError, match="2 latents for 3 crops"):
        fused.swap(torch.zeros(3, 3, 128, 128), torch.zeros(2, 512))


def test_inputs_are_matched_by_shape_not_position(torch_models: dict[str, Path], fused: TorchInswapper,
                                                  tmp_path: Path) -> None:
    import onnx

    model = onnx.load(str(torch_models["inswapper"]))
    target, source = list(model.graph.input)
    del model.graph.input[:]
    model.graph.input.extend([source, target])
    path = tmp_path / "inswapper_128.onnx"
    onnx.save(model, str(path))
    x = blobs(crops()[:2])
    lat = torch.from_numpy(fused.latent(EMBEDDINGS[0]))
    for use_fused in (True, False):
        swapper = TorchInswapper.load(path, "cpu", precision="fp32", fused=use_fused)
        assert float((swapper.swap(x, lat) - fused.swap(x, lat)).abs().max()) * 255 < 0.05
