"""A graph built like the real buffalo_l/det_10g.onnx (SCRFD-10GF with five points), at any width.

The facts it follows: 58 Conv (batch norm folded into them), Relu, MaxPool, AveragePool(ceil_mode) in the
down-sampling shortcuts, Add, nearest upsampling whose output size comes from Shape -> Gather chains (as the
exporter writes `F.interpolate(x, size=y.shape[2:])`), Mul of the box distances by per-stride `scale`
parameters, Transpose, Reshape, Sigmoid; input `input.1` [1,3,?,?]; nine outputs 448, 471, 494 (scores),
451, 474, 497 (box distances), 454, 477, 500 (five-point distances) for strides 8, 16, 32 with two anchors per
place, each [K, 1|4|10]. It loads through insightface's model_zoo as SCRFD.

Layers (width=1.0 is the real network): a ResNetV1e backbone (deep stem 3x3 convs 28, 28, 56 at stride 2,
2x2 max-pool, BasicBlock stages (3, 4, 2, 3) with planes 56, 88, 88, 224, average-pool down-sampling
shortcuts), a PAFPN on strides 8/16/32 with 56 channels, and per stride three 3x3 80-channel head convs then
3x3 score/box/keypoint convs. Channel counts scale with `width` (tests use 0.25).

Weights are random: `score_bias` sets where the scores sit (the benchmark file uses -8 so that almost nothing
passes the threshold, as on a real frame; tests use 0 for a spread of scores around 0.5), box distances are
positive (a bias of 2 strides) so boxes are boxes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx

from tests.standins.graph_builder import GraphBuilder, value_info

STRIDES = (8, 16, 32)
SCORE_NAMES = ("448", "471", "494")
BOX_NAMES = ("451", "474", "497")
KPS_NAMES = ("454", "477", "500")
OUTPUT_NAMES = SCORE_NAMES + BOX_NAMES + KPS_NAMES
ANCHORS = 2


def make_det_10g_like(width: float = 0.25, seed: int = 1, score_bias: float = 0.0,
                      score_gain: float = 1.0) -> onnx.ModelProto:
    g = GraphBuilder(seed, anonymous_start=500)

    def ch(c: int) -> int:
        return max(4, int(round(c * width)))

    def cbr(x: str, cin: int, cout: int, k: int, stride: int = 1, act: bool = True) -> str:
        y = g.conv(x, cin, cout, k, stride, gain=2.0 if act else 1.0)  # batch norm folded: anonymous weights
        return g.relu(y) if act else y

    def basic(x: str, cin: int, cout: int, stride: int) -> str:
        y = cbr(x, cin, cout, 3, stride)
        y = cbr(y, cout, cout, 3, act=False)
        if stride != 1 or cin != cout:
            if stride != 1:
                x = g.op("AveragePool", [x], kernel_shape=[stride, stride], strides=[stride, stride],
                         ceil_mode=1, count_include_pad=0)
            x = cbr(x, cin, cout, 1, act=False)
        return g.relu(g.op("Add", [y, x]))

    def upsample_like(x: str, like: str) -> str:
        """F.interpolate(x, size=like.shape[2:], mode='nearest') as the exporter writes it at opset 11."""
        dims = []
        for src, index in ((x, 0), (x, 1), (like, 2), (like, 3)):
            d = g.op("Gather", [g.op("Shape", [src]), g.constant(np.array(index, np.int64))], axis=0)
            dims.append(g.op("Unsqueeze", [d], axes=[0]))
        sizes = g.op("Concat", dims, axis=0)
        return g.op("Resize", [x, g.constant(np.zeros(0, np.float32)), g.constant(np.zeros(0, np.float32)), sizes],
                    mode="nearest", coordinate_transformation_mode="asymmetric", nearest_mode="floor")

    x = cbr("input.1", 3, ch(28), 3, 2)
    x = cbr(x, ch(28), ch(28), 3)
    x = cbr(x, ch(28), ch(56), 3)
    x = g.op("MaxPool", [x], kernel_shape=[2, 2], strides=[2, 2], pads=[0, 0, 0, 0])
    feats = []
    cin = ch(56)
    for blocks, planes, stride in zip((3, 4, 2, 3), (56, 88, 88, 224), (1, 2, 2, 2), strict=True):
        for i in range(blocks):
            x = basic(x, cin, ch(planes), stride if i == 0 else 1)
            cin = ch(planes)
        feats.append((x, cin))

    c = ch(56)
    lat = [g.conv(f, cf, c, 1, gain=1.0) for f, cf in feats[1:]]
    for i in (2, 1):
        lat[i - 1] = g.op("Add", [lat[i - 1], upsample_like(lat[i], lat[i - 1])])
    inter = [g.conv(t, c, c, 3, gain=1.0) for t in lat]
    for i in range(2):
        inter[i + 1] = g.op("Add", [inter[i + 1], g.conv(inter[i], c, c, 3, stride=2, gain=1.0)])
    outs = [inter[0]] + [g.conv(inter[i], c, c, 3, gain=1.0) for i in (1, 2)]

    h80 = ch(80)
    results: dict[str, str] = {}
    for level, f in enumerate(outs):
        h = f
        for i in range(3):
            h = cbr(h, c if i == 0 else h80, h80, 3)
        score = g.conv(h, h80, ANCHORS, 3, gain=score_gain, bias=np.full(ANCHORS, score_bias, np.float32))
        box = g.conv(h, h80, 4 * ANCHORS, 3, gain=0.05, bias=np.full(4 * ANCHORS, 2.0, np.float32))
        kps = g.conv(h, h80, 10 * ANCHORS, 3, gain=0.1)
        scale = g.init(np.array([1.0 + 0.05 * level], np.float32), f"bbox_head.scales.{level}.scale")
        box = g.op("Mul", [box, scale])
        for t, width_out, names in ((score, 1, SCORE_NAMES), (box, 4, BOX_NAMES), (kps, 10, KPS_NAMES)):
            t = g.op("Transpose", [t], perm=[0, 2, 3, 1])
            shape = g.constant(np.array([-1, width_out], np.int64))
            if names is SCORE_NAMES:
                t = g.op("Sigmoid", [g.op("Reshape", [t, shape])], out=names[level])
            else:
                t = g.op("Reshape", [t, shape], out=names[level])
            results[names[level]] = t

    return g.model(
        "torch-jit-export",
        [value_info("input.1", [1, 3, "?", "?"])],
        [value_info(name, [f"K{STRIDES[i % 3]}", (1, 4, 10)[i // 3]]) for i, name in enumerate(OUTPUT_NAMES)],
    )


def build_det_10g_like(path: str | Path, width: float = 0.25, seed: int = 1, **options: float) -> Path:
    """Write `make_det_10g_like(width, seed, **options)` to `path` (folders created) and return it."""
    path = Path(path)
    model = make_det_10g_like(width, seed, **options)
    onnx.checker.check_model(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    return path
