"""Stand-in for inswapper_128.onnx (the face swapper).

The real file: inputs `target` [1,3,128,128] (an aligned face, RGB, values in [0,1]) and `source` [1,512]
(the source face's normed embedding times `emap`, renormalised), one output `output` [1,3,128,128] RGB in
[0,1], and the 512x512 `emap` stored as the graph's LAST initializer (insightface's INSwapper reads
`graph.initializer[-1]`; the graph itself does not use it).

The stand-in keeps all of that and computes a visible, source-dependent picture:

    output = clip(1 - target + 0.15 * tanh(source @ W), 0, 1)        (W: 512x3, per-channel tint)

so a swapped face shows up as an inverted face, tinted by the source identity. `expected_output` computes the
same thing in numpy.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from tests.standins.onnx_file import save_graph

TINT = 0.15


def _weights(seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    tint = rng.standard_normal((512, 3)).astype(np.float32)  # a unit latent gives tint_raw ~ N(0, 1)
    # A random orthogonal matrix times a mild diagonal: condition number 2.
    q, r = np.linalg.qr(rng.standard_normal((512, 512)))
    q = q * np.sign(np.diag(r))
    emap = (q * np.linspace(1.0, 2.0, 512)[None, :]).astype(np.float32)
    return tint, emap


def emap_for(seed: int = 0) -> np.ndarray:
    """The emap that `build_inswapper(path, seed)` stores."""
    return _weights(seed)[1]


def expected_output(target: np.ndarray, source: np.ndarray, seed: int = 0) -> np.ndarray:
    """numpy reference of the stand-in's graph."""
    tint, _ = _weights(seed)
    shift = TINT * np.tanh(source.astype(np.float32) @ tint)  # [1,3]
    out: np.ndarray = np.clip(1.0 - target + shift[:, :, None, None], 0.0, 1.0).astype(np.float32)
    return out


def build_inswapper(path: str | Path, seed: int = 0) -> Path:
    """Write a stand-in inswapper_128.onnx to `path` and return the path.

    Guarantees: loads through `insightface.model_zoo.get_model` as `INSwapper`; `INSwapper.emap` is a
    512x512 float32 matrix with condition number 2 (from `seed`); output = inverted target plus a tint in
    [-0.15, 0.15] per channel that depends on the source latent (different sources give different tints).
    """
    path = Path(path)
    tint, emap = _weights(seed)
    nodes = [
        helper.make_node("MatMul", ["source", "tint_w"], ["tint_raw"], name="tint_matmul"),
        helper.make_node("Tanh", ["tint_raw"], ["tint_t"], name="tint_tanh"),
        helper.make_node("Mul", ["tint_t", "tint_gain"], ["tint_s"], name="tint_gain"),
        helper.make_node("Reshape", ["tint_s", "tint_shape"], ["tint_4d"], name="tint_reshape"),
        helper.make_node("Sub", ["one", "target"], ["inverted"], name="invert"),
        helper.make_node("Add", ["inverted", "tint_4d"], ["tinted"], name="tint_add"),
        helper.make_node("Clip", ["tinted", "zero", "one"], ["output"], name="clip01"),
    ]
    inits = [
        numpy_helper.from_array(tint, "tint_w"),
        numpy_helper.from_array(np.array(TINT, np.float32), "tint_gain"),
        numpy_helper.from_array(np.array([1, 3, 1, 1], np.int64), "tint_shape"),
        numpy_helper.from_array(np.array(1.0, np.float32), "one"),
        numpy_helper.from_array(np.array(0.0, np.float32), "zero"),
        numpy_helper.from_array(emap, "emap"),  # must stay last
    ]
    graph = helper.make_graph(
        nodes,
        "inswapper_128_standin",
        [
            helper.make_tensor_value_info("target", TensorProto.FLOAT, [1, 3, 128, 128]),
            helper.make_tensor_value_info("source", TensorProto.FLOAT, [1, 512]),
        ],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 3, 128, 128])],
        initializer=inits,
    )
    save_graph(graph, path)
    stored = onnx.load(str(path)).graph.initializer
    if stored[-1].name != "emap":  # pragma: no cover - a guard against onnx reordering
        raise RuntimeError("emap is not the last initializer")
    return path
