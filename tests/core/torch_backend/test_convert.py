"""Generic ONNX -> torch conversion: agreement with onnxruntime, no host reads left, clear refusals."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from onnx import TensorProto, helper, numpy_helper

from app.core import probe
from app.core.torch_backend import ConversionError, graph_passes
from app.core.torch_backend.convert import convert_onnx, import_onnx2torch, missing_converters
from tests.core.torch_backend.conftest import CPU
from tests.standins import letterbox_blob, photos

ROOT = Path(__file__).resolve().parents[3]
CPU_DEVICE = torch.device("cpu")
# onnx2torch modules that read a tensor argument on the host at every call; none may survive specialisation
HOST_READERS = {"OnnxPadDynamic", "OnnxResize", "OnnxSlice", "OnnxReshape", "OnnxShape", "OnnxGather",
                "OnnxUnsqueezeDynamicAxes", "OnnxSqueezeDynamicAxes", "OnnxConstant"}


def module_kinds(module: torch.nn.Module) -> set[str]:
    return {type(m).__name__ for m in module.modules()}


def swap_inputs(emap: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return probe.rgb_blob(probe.face_crop(128)), probe.latent(emap, seed=3)


def test_inswapper_like_graph_converts_exactly(torch_models: dict[str, Path]) -> None:
    path = torch_models["inswapper"]
    model = onnx.load(str(path))
    assert 300 <= len(model.graph.node) <= 330 and model.opset_import[0].version == 11
    target, source = swap_inputs(numpy_helper.to_array(model.graph.initializer[-1]))
    converted = convert_onnx(model, [torch.from_numpy(target), torch.from_numpy(source)], CPU_DEVICE)
    assert converted.input_names == ["target", "source"] and converted.output_names == ["output"]
    assert converted.counts["folded"] > 100 and converted.counts["static"] >= 40  # pads, slices, resizes
    assert converted.host_read is None
    assert not module_kinds(converted.module) & HOST_READERS

    ref = ort.InferenceSession(str(path), providers=CPU).run(None, {"target": target, "source": source})[0]
    got = converted.example_outputs[0].numpy()
    assert np.abs(got - ref).max() * 255 < 0.05
    # the specialised module is not tied to the example: another face and latent agree too
    other_t, other_s = np.ascontiguousarray(target[:, :, ::-1]), np.roll(source, 5, axis=1)
    with torch.inference_mode():
        again = converted.module(torch.from_numpy(other_t), torch.from_numpy(other_s)).numpy()
    ref2 = ort.InferenceSession(str(path), providers=CPU).run(None, {"target": other_t, "source": other_s})[0]
    assert np.abs(again - ref2).max() * 255 < 0.05


def test_det_like_graph_folds_its_shape_chains(torch_models: dict[str, Path]) -> None:
    path = torch_models["det"]
    model = onnx.load(str(path))
    ops = [n.op_type for n in model.graph.node]
    assert ops.count("Conv") == 58 and {"Shape", "Gather", "AveragePool", "MaxPool", "Sigmoid"} <= set(ops)
    blob, _ = letterbox_blob(photos.t1().image, (640, 640))
    converted = convert_onnx(model, [torch.from_numpy(blob)], CPU_DEVICE)
    assert converted.output_names == ["448", "471", "494", "451", "474", "497", "454", "477", "500"]
    assert converted.host_read is None and not module_kinds(converted.module) & HOST_READERS
    refs = ort.InferenceSession(str(path), providers=CPU).run(None, {"input.1": blob})
    for got, ref in zip(converted.example_outputs, refs, strict=True):
        assert got.shape == ref.shape
        assert np.abs(got.numpy() - ref).max() < 1e-3


def test_host_reads_finds_what_onnx2torch_reads_on_the_host(torch_models: dict[str, Path]) -> None:
    """Unspecialised, onnx2torch's module reads pads/sizes on the host (the check can fail)."""
    onnx2torch = import_onnx2torch()
    model = onnx.load(str(torch_models["det"]))
    raw = onnx2torch.convert(model)
    blob, _ = letterbox_blob(photos.t1().image, (640, 640))
    found = graph_passes.host_reads(raw, [torch.from_numpy(blob)])
    assert found is not None and "call_module" in found


def tiny_model(nodes: list[onnx.NodeProto], inits: list[onnx.TensorProto], opset: int) -> onnx.ModelProto:
    graph = helper.make_graph(
        nodes, "tiny", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 4, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    return model


def test_an_op_without_converter_is_a_conversion_error() -> None:
    grid = numpy_helper.from_array(np.zeros((1, 4, 4, 2), np.float32), "grid")
    model = tiny_model([helper.make_node("GridSample", ["x", "grid"], ["y"])], [grid], opset=16)
    assert missing_converters(model) == ["GridSample (opset 16)"]
    with pytest.raises(ConversionError, match="no converter for GridSample"):
        convert_onnx(model, [torch.zeros(1, 2, 4, 4)], CPU_DEVICE, name="tiny")


def test_conv_weights_computed_at_run_time_are_a_conversion_error() -> None:
    """What GFPGAN's ONNX export does (and why the torch backend runs GFPGAN from the .pth)."""
    w = numpy_helper.from_array(np.ones((2, 2, 3, 3), np.float32), "w")
    two = numpy_helper.from_array(np.array(2.0, np.float32), "two")
    nodes = [helper.make_node("Mul", ["w", "two"], ["w2"]),
             helper.make_node("Conv", ["x", "w2"], ["y"], kernel_shape=[3, 3], pads=[1, 1, 1, 1])]
    model = tiny_model(nodes, [w, two], opset=11)
    assert missing_converters(model) == []
    with pytest.raises(ConversionError, match="cannot convert"):
        convert_onnx(model, [torch.zeros(1, 2, 4, 4)], CPU_DEVICE, name="tiny")


def test_planted_detector_standin_converts(standin_models_dir: Path) -> None:
    """The existing planted det_10g stand-in (Slice/Shape/Equal/Pad/...) converts and agrees exactly."""
    path = standin_models_dir / "buffalo_l" / "det_10g.onnx"
    blob, _ = letterbox_blob(photos.t1().image, (640, 640))
    converted = convert_onnx(onnx.load(str(path)), [torch.from_numpy(blob)], CPU_DEVICE)
    refs = ort.InferenceSession(str(path), providers=CPU).run(None, {"input.1": blob})
    for got, ref in zip(converted.example_outputs, refs, strict=True):
        np.testing.assert_allclose(got.numpy(), ref, atol=1e-5)


def test_onnx2torch_imports_without_torchvision() -> None:
    """onnx2torch imports torchvision at import time; a torch-only machine must still convert (and refuse the
    two ops that need torchvision)."""
    code = (
        "import sys; sys.modules['torchvision'] = None\n"
        "from onnx import helper, TensorProto\n"
        "from app.core.torch_backend.convert import import_onnx2torch, missing_converters\n"
        "import_onnx2torch()\n"
        "assert 'torchvision' not in sys.modules or sys.modules['torchvision'] is None\n"
        "node = helper.make_node('NonMaxSuppression', ['b', 's'], ['y'])\n"
        "g = helper.make_graph([node], 'g', [], [])\n"
        "m = helper.make_model(g, opset_imports=[helper.make_opsetid('', 11)])\n"
        "print(missing_converters(m))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert "NonMaxSuppression (opset 11)" in done.stdout
