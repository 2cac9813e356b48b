"""The graphs built like the real inswapper_128 and det_10g: the real files' facts, and insightface loads them."""

from __future__ import annotations

import warnings
from collections import Counter
from pathlib import Path

import numpy as np
import onnx
import pytest

from tests.standins.det_real import OUTPUT_NAMES, build_det_10g_like
from tests.standins.inswapper_real import build_inswapper_like

model_zoo = pytest.importorskip("insightface.model_zoo")
CPU = ["CPUExecutionProvider"]


def load(path: Path):  # type: ignore[no-untyped-def]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return model_zoo.get_model(str(path), providers=CPU)


def test_inswapper_like_has_the_real_files_structure(tmp_path: Path) -> None:
    path = build_inswapper_like(tmp_path / "inswapper_128.onnx", width=8)
    model = onnx.load(str(path))
    graph = model.graph
    ops = Counter(n.op_type for n in graph.node)
    assert model.opset_import[0].version == 11 and 306 <= len(graph.node) <= 326
    assert ops["Gemm"] == 12 and ops["Unsqueeze"] == 12 and ops["Slice"] == 24 and ops["Resize"] == 2
    assert ops["ReduceMean"] == 24 and ops["Sqrt"] == 12 and ops["Pad"] == 14
    assert not {"InstanceNormalization", "MatMul"} & set(ops)
    consumers = {i: n for n in graph.node for i in n.input}
    for gemm in (n for n in graph.node if n.op_type == "Gemm"):
        assert consumers[gemm.output[0]].op_type == "Unsqueeze"
    for pad in (n for n in graph.node if n.op_type == "Pad"):
        assert onnx.helper.get_attribute_value(pad.attribute[0]) == b"reflect"
        assert consumers[pad.output[0]].op_type == "Conv"
    for resize in (n for n in graph.node if n.op_type == "Resize"):
        assert {a.name: onnx.helper.get_attribute_value(a) for a in resize.attribute}["mode"] == b"linear"
    names = [t.name for t in graph.initializer]
    assert names[-2:] == ["buff2fs", "emap"] and "onnx::Conv_833" in names and "up0.1.weight" in names
    assert "styles.5.conv2.1.weight" in names and "styles.0.style1.linear.weight" in names

    swapper = load(path)
    assert type(swapper).__name__ == "INSwapper"
    assert swapper.input_names == ["target", "source"] and swapper.output_names == ["output"]
    assert swapper.emap.shape == (512, 512)
    np.testing.assert_array_equal(swapper.emap, onnx.numpy_helper.to_array(graph.initializer[-1]))


def test_det_like_has_the_real_files_structure(tmp_path: Path) -> None:
    path = build_det_10g_like(tmp_path / "det_10g.onnx", width=0.25)
    graph = onnx.load(str(path)).graph
    ops = Counter(n.op_type for n in graph.node)
    assert ops["Conv"] == 58 and ops["AveragePool"] == 3 and ops["MaxPool"] == 1 and ops["Sigmoid"] == 3
    assert ops["Shape"] == 8 and ops["Gather"] == 8 and ops["Resize"] == 2 and ops["Mul"] == 3
    pools = [n for n in graph.node if n.op_type == "AveragePool"]
    assert all({a.name: a.i for a in p.attribute}["ceil_mode"] == 1 for p in pools)
    assert [o.name for o in graph.output] == list(OUTPUT_NAMES)
    assert sum(t.name.startswith("bbox_head.scales.") for t in graph.initializer) == 3

    detector = load(path)
    assert type(detector).__name__ == "SCRFD"
    assert detector.use_kps and detector.fmc == 3 and detector._num_anchors == 2
    assert detector.input_name == "input.1" and detector.output_names == list(OUTPUT_NAMES)
