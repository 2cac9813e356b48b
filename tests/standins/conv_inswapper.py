"""A small convolutional stand-in for inswapper_128.onnx, built like the real graph, for quantisation tests.

`tests/standins/inswapper.py` is a handful of element-wise ops: there is nothing in it for static int8
quantisation to work on. This one has the real file's contract (inputs `target` [1,3,128,128] RGB in [0,1]
and `source` [1,512], output `output` [1,3,128,128] in [0,1], the 512x512 emap as the LAST initializer,
unused by the graph) and the real graph's kinds of layers, at opset 11 like the real file:

    reflect Pad + 7x7 conv -> two stride-2 3x3 convs down to 32x32 -> style blocks (reflect Pad + 3x3 conv +
    AdaIN spelled ReduceMean/Sub/Mul/ReduceMean/Add/Sqrt/Div, scale and shift from a Gemm on the source latent
    followed by Unsqueeze + Slice) -> two bilinear Resize x2 + 3x3 convs -> reflect Pad + 7x7 conv -> Tanh

only `width` channels wide (16 by default, ~0.35M weights, a few milliseconds per face), so a quantised copy
is real QDQ int8 and its error against fp32 is a real number. The last conv's output is added to the target
before the Tanh, so the output is the face (contrast-compressed) plus a visible, source-dependent pattern,
and neither is saturated: the error of a quantised copy shows in every pixel.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 11  # the real inswapper_128.onnx's opset
IR_VERSION = 6


class _Builder:
    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self._n = 0

    def name(self, prefix: str) -> str:
        self._n += 1
        return f"{prefix}_{self._n}"

    def const(self, value: np.ndarray, prefix: str = "onnx::Const") -> str:
        name = self.name(prefix)
        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def op(self, op_type: str, inputs: list[str], out: str | None = None, **attrs: object) -> str:
        output = out or self.name("t")
        self.nodes.append(helper.make_node(op_type, inputs, [output], name=self.name(op_type), **attrs))
        return output

    def conv(self, x: str, cin: int, cout: int, k: int, stride: int = 1, pad: int = 0, gain: float = 2.0) -> str:
        w = self.rng.standard_normal((cout, cin, k, k)).astype(np.float32) * np.float32(np.sqrt(gain / (cin * k * k)))
        b = self.rng.uniform(-0.05, 0.05, cout).astype(np.float32)
        return self.op("Conv", [x, self.const(w, "conv.weight"), self.const(b, "conv.bias")],
                       kernel_shape=[k, k], strides=[stride, stride], pads=[pad] * 4)

    def reflect(self, x: str, p: int) -> str:
        return self.op("Pad", [x, self.const(np.array([0, 0, p, p, 0, 0, p, p], np.int64), "pads")], mode="reflect")

    def adain(self, x: str, latent: str, c: int) -> str:
        """x normalised per channel, then * (1 + scale) + shift from a Gemm on the latent (the real graph's
        12 style linears, each followed by Unsqueeze + Slice)."""
        mean = self.op("ReduceMean", [x], axes=[2, 3], keepdims=1)
        centred = self.op("Sub", [x, mean])
        var = self.op("ReduceMean", [self.op("Mul", [centred, centred])], axes=[2, 3], keepdims=1)
        std = self.op("Sqrt", [self.op("Add", [var, self.const(np.array(1e-8, np.float32), "eps")])])
        normed = self.op("Div", [centred, std])
        w = (self.rng.standard_normal((2 * c, 512)) * 0.1).astype(np.float32)
        style = self.op("Gemm", [latent, self.const(w, "styles.linear.weight"),
                                 self.const(np.zeros(2 * c, np.float32), "styles.linear.bias")], transB=1)
        style = self.op("Unsqueeze", [style], axes=[2, 3])
        parts = []
        for start in (0, c):
            parts.append(self.op("Slice", [style, self.const(np.array([start], np.int64), "starts"),
                                           self.const(np.array([start + c], np.int64), "ends"),
                                           self.const(np.array([1], np.int64), "axes")]))
        scale = self.op("Add", [parts[0], self.const(np.array(1.0, np.float32), "one")])
        return self.op("Add", [self.op("Mul", [normed, scale]), parts[1]])

    def up2(self, x: str) -> str:
        roi = self.const(np.zeros(0, np.float32), "roi")
        scales = self.const(np.array([1.0, 1.0, 2.0, 2.0], np.float32), "scales")
        return self.op("Resize", [x, roi, scales], mode="linear", coordinate_transformation_mode="pytorch_half_pixel")


def build_conv_inswapper(path: str | Path, width: int = 16, blocks: int = 2, seed: int = 0) -> Path:
    """Write the stand-in to `path` (folders created) and return the path.

    Guarantees: loads through `insightface.model_zoo.get_model` as `INSwapper`; opset 11; the emap (512x512,
    condition number 2) is the last initializer and no node reads it; the output lies in (0, 1), follows the
    target face and changes with the source latent.
    """
    path = Path(path)
    g = _Builder(seed)
    c = width
    x = g.op("LeakyRelu", [g.conv(g.reflect("target", 3), 3, c, 7)], alpha=0.2)
    x = g.op("LeakyRelu", [g.conv(x, c, 2 * c, 3, stride=2, pad=1)], alpha=0.2)        # 64x64
    x = g.op("LeakyRelu", [g.conv(x, 2 * c, 4 * c, 3, stride=2, pad=1)], alpha=0.2)    # 32x32
    for _ in range(blocks):
        y = g.op("Relu", [g.adain(g.conv(g.reflect(x, 1), 4 * c, 4 * c, 3, gain=1.0), "source", 4 * c)])
        y = g.adain(g.conv(g.reflect(y, 1), 4 * c, 4 * c, 3, gain=1.0), "source", 4 * c)
        x = g.op("Add", [x, y])
    x = g.op("LeakyRelu", [g.conv(g.up2(x), 4 * c, 2 * c, 3, pad=1)], alpha=0.2)       # 64x64
    x = g.op("LeakyRelu", [g.conv(g.up2(x), 2 * c, c, 3, pad=1)], alpha=0.2)           # 128x128
    pattern = g.conv(g.reflect(x, 3), c, 3, 7, gain=0.1)
    # (target - 0.5) * 2 + pattern, squashed: the face shows through, the pattern rides on it.
    face = g.op("Mul", [g.op("Sub", ["target", g.const(np.array(0.5, np.float32), "half")]),
                        g.const(np.array(2.0, np.float32), "two")])
    x = g.op("Tanh", [g.op("Add", [face, pattern])])
    x = g.op("Add", [x, g.const(np.array(1.0, np.float32), "one")])
    g.op("Mul", [x, g.const(np.array(0.5, np.float32), "half")], out="output")

    q, r = np.linalg.qr(g.rng.standard_normal((512, 512)))
    emap = ((q * np.sign(np.diag(r))) * np.linspace(1.0, 2.0, 512)[None, :]).astype(np.float32)
    graph = helper.make_graph(
        g.nodes,
        "inswapper_128_conv_standin",
        [helper.make_tensor_value_info("target", TensorProto.FLOAT, [1, 3, 128, 128]),
         helper.make_tensor_value_info("source", TensorProto.FLOAT, [1, 512])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 3, 128, 128])],
        initializer=[*g.inits, numpy_helper.from_array(emap, "emap")],  # unused by the graph; must stay last
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], ir_version=IR_VERSION,
                              producer_name="deep-live-cam-standins")
    onnx.checker.check_model(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    return path
