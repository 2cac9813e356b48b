"""A small ONNX graph writer in the style of torch's exporter: node names `<Op>_<n>`, small parameters (pads,
slice bounds, resize scales, scalars) as `Constant` nodes, weights as named or anonymous (`onnx::Conv_<n>`)
initializers. The builders of graphs that look like the real files (inswapper_real, det_real) use it, so their
graphs exercise what a converter meets in the real files, not just what is easiest to write.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


@dataclass
class GraphBuilder:
    seed: int
    opset: int = 11
    nodes: list[onnx.NodeProto] = field(default_factory=list)
    inits: list[onnx.TensorProto] = field(default_factory=list)
    anonymous_start: int = 833  # the real inswapper's anonymous initializers start about here
    _n: int = 0
    _anon: int = 0

    def __post_init__(self) -> None:
        self.rng = np.random.default_rng(self.seed)
        self._anon = self.anonymous_start

    # ------------------------------------------------------------------------------------------ values
    def init(self, array: np.ndarray, name: str | None = None, op: str = "Conv") -> str:
        """An initializer; without a name, an anonymous `onnx::<op>_<n>` one (folded batch norms get those)."""
        if name is None:
            name = f"onnx::{op}_{self._anon}"
            self._anon += 1
        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def constant(self, array: np.ndarray | float | int | Sequence[int]) -> str:
        """A `Constant` node, as the exporter writes pads, slice bounds, scales and scalars."""
        value = np.asarray(array)
        if value.dtype == np.float64:
            value = value.astype(np.float32)
        return self.op("Constant", [], value=numpy_helper.from_array(value))

    # ----------------------------------------------------------------------------------------- nodes
    def op(self, op_type: str, inputs: Sequence[str], out: str | None = None, **attrs: Any) -> str:
        self._n += 1
        name = out if out is not None else str(self._n + 1000)  # numeric names like the exporter's (clear of 448..500)
        self.nodes.append(helper.make_node(op_type, list(inputs), [name], name=f"{op_type}_{self._n}", **attrs))
        return name

    def weights(self, shape: Sequence[int], fan_in: int, gain: float = 2.0) -> np.ndarray:
        w = self.rng.standard_normal(tuple(shape), dtype=np.float32)
        w *= np.float32(np.sqrt(gain / fan_in))
        return w

    def conv(
        self,
        x: str,
        cin: int,
        cout: int,
        k: int,
        stride: int = 1,
        pad: int | None = None,
        name: str | None = None,
        gain: float = 2.0,
        bias: np.ndarray | None = None,
    ) -> str:
        """Conv with bias; `name` gives `<name>.weight`/`<name>.bias`, else anonymous initializers."""
        pad = k // 2 if pad is None else pad
        w = self.init(self.weights((cout, cin, k, k), cin * k * k, gain), f"{name}.weight" if name else None)
        b_value = self.rng.uniform(-0.05, 0.05, cout).astype(np.float32) if bias is None else bias
        b = self.init(b_value.astype(np.float32), f"{name}.bias" if name else None)
        return self.op("Conv", [x, w, b], kernel_shape=[k, k], strides=[stride, stride], pads=[pad] * 4,
                       dilations=[1, 1], group=1)

    def gemm(self, x: str, fin: int, fout: int, name: str, gain: float, bias: np.ndarray) -> str:
        w = self.init(self.weights((fout, fin), fin, gain), f"{name}.weight")
        b = self.init(bias.astype(np.float32), f"{name}.bias")
        return self.op("Gemm", [x, w, b], alpha=1.0, beta=1.0, transB=1)

    def reflect_pad(self, x: str, p: int) -> str:
        return self.op("Pad", [x, self.constant(np.array([0, 0, p, p, 0, 0, p, p], np.int64))], mode="reflect")

    def leaky(self, x: str) -> str:
        return self.op("LeakyRelu", [x], alpha=0.2)

    def relu(self, x: str) -> str:
        return self.op("Relu", [x])

    # ----------------------------------------------------------------------------------------- model
    def model(
        self,
        name: str,
        inputs: list[onnx.ValueInfoProto],
        outputs: list[onnx.ValueInfoProto],
        trailing: Sequence[onnx.TensorProto] = (),
    ) -> onnx.ModelProto:
        graph = helper.make_graph(self.nodes, name, inputs, outputs, self.inits + list(trailing))
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", self.opset)],
                                  producer_name="pytorch", producer_version="1.8")
        model.ir_version = 6  # what torch 1.x wrote at opset 11
        return model


def value_info(name: str, shape: Sequence[int | str]) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, list(shape))
