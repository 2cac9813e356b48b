"""A graph built like the real inswapper_128.onnx, at any width (random weights).

The facts it follows (public descriptions of the real file): opset 11, about 316 nodes; Pad(reflect) before
both 7x7 convs and before every style-block 3x3 conv; Conv, LeakyRelu(0.2), Relu, Tanh then (x+1)/2; 12 Gemm
style linears (512 -> 2C) each followed by Unsqueeze and two Slices (scale, shift); AdaIN written out as
ReduceMean, Sub, Mul, ReduceMean, Add(1e-8), Sqrt, Div, Mul, Add (no InstanceNormalization, no MatMul); two
bilinear Resize x2; initializers named `styles.{i}.conv{1,2}.1.weight`, `styles.{i}.style{1,2}.linear.weight`,
`up0.1.weight`, anonymous `onnx::Conv_833`...; a 512x512 `buff2fs` and then the emap, the LAST initializer
(neither is used by the graph: insightface reads the emap itself). Inputs `target` [1,3,128,128] (RGB in [0,1])
and `source` [1,512]; output `output` [1,3,128,128] in [0,1].

Channels: `width` (7x7 conv), 2*width (at 128x128), 4*width (64x64), 8*width = C (32x32, six style blocks);
the decoder mirrors it. width=128 is the real network (~138M weights, ~175 GMAC); tests use 8.

Options for tests of the torch backend's safety nets:
- `batch_pinned=True`: the style vectors are reshaped to a constant [1, 2C, 1, 1] instead of unsqueezed, so the
  graph only runs with batch 1 (what "batch 1 fixed in places" means for a converter).
- `overflow_gain`: multiplies the first style block's first conv weights; the AdaIN after it normalises the
  scale away in float32, but in float16 the conv output overflows (inf, then NaN): the "black face" failure.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper

from tests.standins.graph_builder import GraphBuilder, value_info

LATENT = 512
EPS = 1e-8
BLOCKS = 6


def make_inswapper_like(
    width: int = 8,
    seed: int = 0,
    batch_pinned: bool = False,
    overflow_gain: float = 1.0,
) -> onnx.ModelProto:
    g = GraphBuilder(seed)
    c1, c2, c3, c4 = width, 2 * width, 4 * width, 8 * width

    def style(name: str, c: int) -> tuple[str, str]:
        # gamma ~ 1, beta ~ 0 (biases), as in a trained AdaIN
        bias = np.concatenate([np.ones(c), np.zeros(c)]).astype(np.float32)
        s = g.gemm("source", LATENT, 2 * c, f"{name}.linear", gain=0.05, bias=bias)
        if batch_pinned:
            s = g.op("Reshape", [s, g.constant(np.array([1, 2 * c, 1, 1], np.int64))])
        else:
            s = g.op("Unsqueeze", [s], axes=[2, 3])
        halves = []
        for start, end in ((0, c), (c, 2 * c)):
            halves.append(g.op("Slice", [s, g.constant(np.array([start], np.int64)),
                                         g.constant(np.array([end], np.int64)), g.constant(np.array([1], np.int64))]))
        return halves[0], halves[1]

    def adain(x: str, name: str, c: int) -> str:
        gamma, beta = style(name, c)
        mean = g.op("ReduceMean", [x], axes=[2, 3], keepdims=1)
        diff = g.op("Sub", [x, mean])
        var = g.op("ReduceMean", [g.op("Mul", [diff, diff])], axes=[2, 3], keepdims=1)
        std = g.op("Sqrt", [g.op("Add", [var, g.constant(np.array(EPS, np.float32))])])
        norm = g.op("Div", [diff, std])
        return g.op("Add", [g.op("Mul", [norm, gamma]), beta])

    def block_conv(x: str, name: str, gain: float = 1.0) -> str:
        return g.conv(g.reflect_pad(x, 1), c4, c4, 3, pad=0, name=name, gain=gain)

    x = g.leaky(g.conv(g.reflect_pad("target", 3), 3, c1, 7, pad=0))
    x = g.leaky(g.conv(x, c1, c2, 3))                  # 128x128
    x = g.leaky(g.conv(x, c2, c3, 3, stride=2))        # 64x64
    x = g.leaky(g.conv(x, c3, c4, 3, stride=2))        # 32x32
    for i in range(BLOCKS):
        gain = overflow_gain**2 if i == 0 else 1.0
        y = g.relu(adain(block_conv(x, f"styles.{i}.conv1.1", gain=gain), f"styles.{i}.style1", c4))
        y = adain(block_conv(y, f"styles.{i}.conv2.1"), f"styles.{i}.style2", c4)
        x = g.op("Add", [x, y])
    for j, (cin, cout) in enumerate(((c4, c3), (c3, c2))):
        up = g.op("Resize", [x, g.constant(np.zeros(0, np.float32)), g.constant(np.array([1, 1, 2, 2], np.float32))],
                  mode="linear", coordinate_transformation_mode="pytorch_half_pixel", nearest_mode="floor")
        x = g.leaky(g.conv(up, cin, cout, 3, name=f"up{j}.1"))
    x = g.leaky(g.conv(x, c2, c1, 3))
    x = g.op("Tanh", [g.conv(g.reflect_pad(x, 3), c1, 3, 7, pad=0, gain=0.02)])
    x = g.op("Add", [x, g.constant(np.array(1.0, np.float32))])
    g.op("Div", [x, g.constant(np.array(2.0, np.float32))], out="output")

    buff2fs = g.rng.standard_normal((LATENT, LATENT), dtype=np.float32) / np.float32(np.sqrt(LATENT))
    q, r = np.linalg.qr(g.rng.standard_normal((LATENT, LATENT)))
    emap = (q * np.sign(np.diag(r)) * np.linspace(1.0, 2.0, LATENT)[None, :]).astype(np.float32)
    return g.model(
        "torch-jit-export",
        [value_info("target", [1, 3, 128, 128]), value_info("source", [1, LATENT])],
        [value_info("output", [1, 3, 128, 128])],
        trailing=[numpy_helper.from_array(buff2fs, "buff2fs"), numpy_helper.from_array(emap, "emap")],
    )


def build_inswapper_like(path: str | Path, width: int = 8, seed: int = 0, **options: object) -> Path:
    """Write `make_inswapper_like(width, seed, **options)` to `path` (folders created) and return it."""
    path = Path(path)
    model = make_inswapper_like(width, seed, **options)  # type: ignore[arg-type]
    onnx.checker.check_model(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    return path
