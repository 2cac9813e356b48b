"""Stand-in for GFPGANv1.4.onnx (the face restorer's ONNX export).

The contract of the real export: one input [1,3,512,512] float32 RGB scaled to [-1,1], one output of the
same shape and range. The stand-in darkens and cools the face visibly:

    output = clip(0.6 * input - 0.2 * [1, 0, -1] per channel (R, G, B), -1, 1)

so a restored face shows where it landed, and `expected_output` computes the same in numpy.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from onnx import TensorProto, helper, numpy_helper

from tests.standins.onnx_file import save_graph

GAIN = 0.6
SHIFT = np.array([-0.2, 0.0, 0.2], dtype=np.float32).reshape(1, 3, 1, 1)  # R, G, B


def expected_output(blob: np.ndarray) -> np.ndarray:
    return np.clip(GAIN * blob + SHIFT, -1.0, 1.0).astype(np.float32)


def build_restorer(path: str | Path) -> Path:
    path = Path(path)
    nodes = [
        helper.make_node("Mul", ["input", "gain"], ["scaled"], name="restore_gain"),
        helper.make_node("Add", ["scaled", "shift"], ["shifted"], name="restore_shift"),
        helper.make_node("Clip", ["shifted", "lo", "hi"], ["output"], name="restore_clip"),
    ]
    inits = [
        numpy_helper.from_array(np.array(GAIN, np.float32), "gain"),
        numpy_helper.from_array(SHIFT, "shift"),
        numpy_helper.from_array(np.array(-1.0, np.float32), "lo"),
        numpy_helper.from_array(np.array(1.0, np.float32), "hi"),
    ]
    graph = helper.make_graph(
        nodes, "gfpgan_v14_standin",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, 512, 512])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 3, 512, 512])],
        initializer=inits,
    )
    return save_graph(graph, path)
