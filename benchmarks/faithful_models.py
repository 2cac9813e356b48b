"""Architecture-faithful stand-ins for the real model files, for benchmarks.

The real weights cannot be downloaded here, so a timing is taken on a file with random weights and the real
layer shapes: same convolutions at the same resolutions, same input/output names and conventions, so that
insightface's ``model_zoo.get_model`` and our engine load it exactly as they load the real file, and the
milliseconds mean what they would with the real weights.  Outputs are meaningless.

Graphs are written with ``onnx.helper`` directly (no exporter, no torch): that gives exact control over tensor
names, the initializer order (inswapper's emap must be the LAST initializer) and node names (ArcFaceONNX looks
at the first eight node names to pick its normalisation).  Batch norms are folded into the convolutions where
the real inference graphs have them folded; ONNX Runtime would fuse them anyway.  The inswapper and det_10g
graphs come from the builders of graphs "built like the real files" in ``tests/standins`` (``inswapper_real``,
``det_real``: opset 11, the real files' node types, Constant nodes, naming and quirks, at any width), used here
at the real widths, so the torch backend's converter and fused module meet here what they meet in the real
files.

Files are cached under ``benchmarks/.cache`` in the same layout as a models folder
(``inswapper_128.onnx``, ``buffalo_l/det_10g.onnx``, ``buffalo_l/w600k_r50.onnx``), each with a ``.json``
sidecar holding the builder version, parameter count and multiply-accumulate count.

Layer plans (public descriptions of the real networks; totals checked by ``count_macs`` on the written file):

* inswapper_128 (SimSwap-like generator, widened): reflect-pad + 7x7 conv 3->128 at 128x128, 3x3 conv
  128->256 at 128x128, stride-2 3x3 convs 256->512 (64x64) and 512->1024 (32x32), six AdaIN residual blocks
  of two reflect-padded 3x3 1024->1024 convs at 32x32 (each AdaIN written out as ReduceMean/Sub/Mul/
  ReduceMean/Add/Sqrt/Div/Mul/Add, its scale/shift from its own 512->2048 Gemm on the source latent, then
  Unsqueeze and two Slices), decoder: bilinear 2x Resize + 3x3 1024->512 (64x64), 2x Resize + 3x3 512->256
  (128x128), 3x3 256->128, reflect-pad + 7x7 128->3, (tanh+1)/2; ~318 nodes; buff2fs then emap last.
  138.3M weights (+0.26M emap), 174.6 GMAC.
  Running the 256-channel conv at full resolution is what makes the total meet the published ~175 GMAC
  (a stride-2 first down-sample would give 167 GMAC with the same parameters).
* det_10g: SCRFD-10GF "bnkps": ResNetV1e (deep stem 3x3 convs 28,28,56, 2x2 max-pool, BasicBlock stages
  (3,4,2,3) with planes 56,88,88,224, avg-pool (ceil_mode) down-sampling shortcuts), PAFPN on strides
  8/16/32 with 56 channels (nearest upsampling sized by Shape->Gather chains), per-stride heads of three 3x3
  80-channel convs and 3x3 score/box/keypoint convs, box distances times per-stride `scale`, two anchors;
  58 convs.
* w600k_r50: IResNet-50 (insightface arcface_torch ``iresnet50``).
* 2d106det: MobileNetV1 x0.5 with a stride-1 stem at 192x192 (see ``make_2d106det``); insightface's README
  names the backbone (MobileNet-0.5, 5 MB), the exact stem is not published.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

BUILDER_VERSION = 3
OPSET = 17
CACHE_DIR = Path(__file__).resolve().parent / ".cache"

INSWAPPER_FILE = "inswapper_128.onnx"
DET_FILE = "buffalo_l/det_10g.onnx"
REC_FILE = "buffalo_l/w600k_r50.onnx"

# The real det_10g.onnx names its nine outputs so (scores, boxes, keypoints; strides 8, 16, 32 each).
SCRFD_OUTPUT_NAMES = ("448", "471", "494", "451", "474", "497", "454", "477", "500")
ARCFACE_OUTPUT_NAME = "683"
LANDMARK_FILE = "buffalo_l/2d106det.onnx"
LANDMARK_OUTPUT_NAME = "fc1"


# --------------------------------------------------------------------------------------------------------
# A small graph builder
# --------------------------------------------------------------------------------------------------------
@dataclass
class _Graph:
    seed: int
    nodes: list[onnx.NodeProto] = field(default_factory=list)
    inits: list[onnx.TensorProto] = field(default_factory=list)
    _n: int = 0

    def __post_init__(self) -> None:
        self.rng = np.random.default_rng(self.seed)

    def _name(self, prefix: str) -> str:
        self._n += 1
        return f"{prefix}_{self._n}"

    def const(self, array: np.ndarray, prefix: str = "w") -> str:
        name = self._name(prefix)
        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def op(self, op_type: str, inputs: Sequence[str], n_out: int = 1, out: str | None = None,
           **attrs: Any) -> str:
        outs = [out] if out is not None else [self._name("t") for _ in range(n_out)]
        # Node names follow the torch exporter's "<Op>_<n>" style; none starts with Sub/Mul early on.
        self.nodes.append(helper.make_node(op_type, list(inputs), outs, name=self._name(op_type), **attrs))
        return outs[0]

    def ops(self, op_type: str, inputs: Sequence[str], n_out: int, **attrs: Any) -> list[str]:
        outs = [self._name("t") for _ in range(n_out)]
        self.nodes.append(helper.make_node(op_type, list(inputs), outs, name=self._name(op_type), **attrs))
        return outs

    def weights(self, shape: Sequence[int], fan_in: int, gain: float = 2.0) -> np.ndarray:
        w = self.rng.standard_normal(tuple(shape), dtype=np.float32)
        w *= np.float32(np.sqrt(gain / fan_in))
        return w

    def conv(self, x: str, cin: int, cout: int, k: int, stride: int = 1, pad: int | None = None,
             bias: bool = True, gain: float = 2.0, out: str | None = None, group: int = 1) -> str:
        pad = k // 2 if pad is None else pad
        w = self.const(self.weights((cout, cin // group, k, k), cin // group * k * k, gain))
        ins = [x, w]
        if bias:
            ins.append(self.const(self.rng.uniform(-0.05, 0.05, cout).astype(np.float32), "b"))
        return self.op("Conv", ins, out=out, kernel_shape=[k, k], strides=[stride, stride],
                       pads=[pad] * 4, dilations=[1, 1], group=group)

    def gemm(self, x: str, fin: int, fout: int, gain: float = 1.0, out: str | None = None) -> str:
        w = self.const(self.weights((fout, fin), fin, gain))
        b = self.const(np.zeros(fout, np.float32), "b")
        return self.op("Gemm", [x, w, b], out=out, alpha=1.0, beta=1.0, transB=1)

    def bn(self, x: str, c: int, out: str | None = None) -> str:
        scale = self.const(self.rng.uniform(0.8, 1.2, c).astype(np.float32), "bn_s")
        shift = self.const(self.rng.uniform(-0.1, 0.1, c).astype(np.float32), "bn_b")
        mean = self.const(self.rng.uniform(-0.1, 0.1, c).astype(np.float32), "bn_m")
        var = self.const(self.rng.uniform(0.9, 1.1, c).astype(np.float32), "bn_v")
        return self.op("BatchNormalization", [x, scale, shift, mean, var], out=out, epsilon=1e-5)

    def prelu(self, x: str, c: int) -> str:
        return self.op("PRelu", [x, self.const(np.full((c, 1, 1), 0.25, np.float32), "prelu")])

    def relu(self, x: str) -> str:
        return self.op("Relu", [x])

    def leaky(self, x: str) -> str:
        return self.op("LeakyRelu", [x], alpha=0.2)

    def reflect_pad(self, x: str, p: int) -> str:
        pads = self.const(np.array([0, 0, p, p, 0, 0, p, p], np.int64), "pads")
        return self.op("Pad", [x, pads], mode="reflect")

    def upsample2x(self, x: str, mode: str = "nearest") -> str:
        scales = self.const(np.array([1.0, 1.0, 2.0, 2.0], np.float32), "scales")
        return self.op("Resize", [x, "", scales], mode=mode)

    def model(self, name: str, inputs: list[onnx.ValueInfoProto], outputs: list[onnx.ValueInfoProto],
              trailing_inits: Iterable[onnx.TensorProto] = ()) -> onnx.ModelProto:
        graph = helper.make_graph(self.nodes, name, inputs, outputs, self.inits + list(trailing_inits))
        m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="deep-live-cam faithful stand-in")
        m.ir_version = 8
        m.doc_string = "Random weights, real layer shapes; for benchmarks only."
        return m


# --------------------------------------------------------------------------------------------------------
# inswapper_128 and det_10g: the graphs built like the real files (tests/standins), at the real widths
# --------------------------------------------------------------------------------------------------------
def make_inswapper(seed: int = 0) -> onnx.ModelProto:
    from tests.standins.inswapper_real import make_inswapper_like

    return make_inswapper_like(width=128, seed=seed)


def make_det_10g(seed: int = 1) -> onnx.ModelProto:
    from tests.standins.det_real import make_det_10g_like

    # Strongly negative score bias: random weights then give (almost) no candidates over 0.5, so the NMS that
    # follows costs what it costs on a real frame with a few faces, not 16800 candidates.
    return make_det_10g_like(width=1.0, seed=seed, score_bias=-8.0)


# --------------------------------------------------------------------------------------------------------
# w600k_r50 (ArcFace IResNet-50)
# --------------------------------------------------------------------------------------------------------
def make_w600k_r50(seed: int = 2) -> onnx.ModelProto:
    g = _Graph(seed)

    def block(x: str, cin: int, cout: int, stride: int) -> str:
        # IBasicBlock: BN, conv3x3, BN, PReLU, conv3x3(stride), BN  (+ 1x1 conv/BN shortcut when reshaping)
        y = g.bn(x, cin)
        y = g.conv(y, cin, cout, 3, bias=True)          # conv1 with bn2 folded
        y = g.prelu(y, cout)
        y = g.conv(y, cout, cout, 3, stride, bias=True, gain=0.2)  # conv2 with bn3 folded
        if stride != 1 or cin != cout:
            x = g.conv(x, cin, cout, 1, stride, pad=0, bias=True)
        return g.op("Add", [y, x])

    x = g.prelu(g.conv("input.1", 3, 64, 3, bias=True), 64)
    cin = 64
    for blocks, planes in zip((3, 4, 14, 3), (64, 128, 256, 512), strict=True):
        for i in range(blocks):
            x = block(x, cin, planes, 2 if i == 0 else 1)
            cin = planes
    x = g.bn(x, 512)
    x = g.op("Flatten", [x], axis=1)
    x = g.gemm(x, 512 * 7 * 7, 512)
    g.bn(x, 512, out=ARCFACE_OUTPUT_NAME)
    return g.model(
        "w600k_r50",
        [helper.make_tensor_value_info("input.1", TensorProto.FLOAT, ["None", 3, 112, 112])],
        [helper.make_tensor_value_info(ARCFACE_OUTPUT_NAME, TensorProto.FLOAT, ["None", 512])],
    )


# --------------------------------------------------------------------------------------------------------
# 2d106det (insightface's 106-point landmarks, MobileNet-0.5)
# --------------------------------------------------------------------------------------------------------
def make_2d106det(seed: int = 3) -> onnx.ModelProto:
    """MobileNetV1 at width 0.5 on the 192x192 crop with a stride-1 stem (so the depthwise stages run at
    192/96/48/24/12 px), global pooling and two linears to the 212 outputs: ~0.44 GMAC, ~1.2M weights
    (the real file is 5.0 MB). The mxnet-style in-graph normalisation comes first, as in the real file, so
    insightface's Landmark reads input_mean 0 and input_std 1 (node names starting Sub/Mul)."""
    g = _Graph(seed)
    x = g.op("Sub", ["data", g.const(np.array(127.5, np.float32), "mean")])
    x = g.op("Mul", [x, g.const(np.array(1.0 / 128.0, np.float32), "scale")])
    x = g.relu(g.conv(x, 3, 16, 3))  # 192x192
    cin = 16
    plan = [(1, 32), (2, 64), (1, 64), (2, 128), (1, 128), (2, 256)] + [(1, 256)] * 5 + [(2, 512), (1, 512)]
    for stride, cout in plan:
        x = g.relu(g.conv(x, cin, cin, 3, stride, group=cin))  # depthwise
        x = g.relu(g.conv(x, cin, cout, 1, pad=0))  # pointwise
        cin = cout
    x = g.op("GlobalAveragePool", [x])
    x = g.op("Flatten", [x], axis=1)
    x = g.relu(g.gemm(x, 512, 512))
    g.gemm(x, 512, 212, gain=0.01, out=LANDMARK_OUTPUT_NAME)
    return g.model(
        "2d106det",
        [helper.make_tensor_value_info("data", TensorProto.FLOAT, ["None", 3, 192, 192])],
        [helper.make_tensor_value_info(LANDMARK_OUTPUT_NAME, TensorProto.FLOAT, ["None", 212])],
    )


# --------------------------------------------------------------------------------------------------------
# Counting
# --------------------------------------------------------------------------------------------------------
def count_params(model: onnx.ModelProto, skip: Sequence[str] = ("emap",)) -> int:
    """Float weights in the file (conv/linear/norm/PReLU), without the unused emap."""
    total = 0
    for t in model.graph.initializer:
        if t.name in skip or t.data_type != TensorProto.FLOAT:
            continue
        n = int(np.prod(t.dims)) if len(t.dims) else 1
        if n > 8 or len(t.dims) == 1:  # leave out Resize scales and (1,1,1,1) constants
            total += n
    return total


def count_macs(model: onnx.ModelProto, input_shapes: dict[str, Sequence[int]]) -> int:
    """Multiply-accumulates of Conv, Gemm and MatMul, from the shapes ONNX infers for the given inputs.

    Large initializers become typed graph inputs so shape inference on a 550 MB graph stays cheap.
    """
    inputs = []
    for i in model.graph.input:
        if i.name in input_shapes:
            inputs.append(helper.make_tensor_value_info(i.name, i.type.tensor_type.elem_type,
                                                        list(input_shapes[i.name])))
        else:
            inputs.append(i)
    small = []
    for t in model.graph.initializer:
        if int(np.prod(t.dims)) > 64:
            inputs.append(helper.make_tensor_value_info(t.name, t.data_type, list(t.dims)))
        else:
            small.append(t)
    light = helper.make_model(helper.make_graph(list(model.graph.node), "count", inputs, [], small),
                              opset_imports=list(model.opset_import))
    light.ir_version = model.ir_version
    inferred = onnx.shape_inference.infer_shapes(light, check_type=False, strict_mode=True,
                                                 data_prop=True)
    shapes: dict[str, list[int]] = {}
    for vi in list(inferred.graph.value_info) + list(inferred.graph.input):
        shapes[vi.name] = [d.dim_value for d in vi.type.tensor_type.shape.dim]
    dims = {t.name: list(t.dims) for t in model.graph.initializer}
    unknown = [n.output[0] for n in inferred.graph.node if n.op_type in ("Conv", "Gemm", "MatMul")
               and (not shapes.get(n.output[0]) or 0 in shapes[n.output[0]])]
    if unknown:
        shapes.update(_run_shapes(model, input_shapes, unknown))

    def shape(name: str) -> list[int]:
        return dims[name] if name in dims else shapes[name]

    macs = 0
    for n in inferred.graph.node:
        if n.op_type == "Conv":
            w = shape(n.input[1])
            out = shape(n.output[0])
            if not out or 0 in out:
                raise ValueError(f"shape inference left {n.output[0]} unknown")
            macs += int(np.prod(out)) * int(np.prod(w[1:]))
        elif n.op_type == "Gemm":
            a, b = shape(n.input[0]), shape(n.input[1])
            trans_b = next((at.i for at in n.attribute if at.name == "transB"), 0)
            k, m = (b[1], b[0]) if trans_b else (b[0], b[1])
            macs += a[0] * k * m
        elif n.op_type == "MatMul":
            a, b = shape(n.input[0]), shape(n.input[1])
            macs += int(np.prod(a)) * b[-1]
    return macs


def _run_shapes(model: onnx.ModelProto, input_shapes: dict[str, Sequence[int]],
                names: Sequence[str]) -> dict[str, list[int]]:
    """Shapes ONNX's inference cannot give (a Resize sized by Shape->Gather chains, as in det_10g), read off one
    onnxruntime run on zeros with those tensors made outputs."""
    import onnxruntime as ort

    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    probe.graph.output.extend(helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in names)
    session = ort.InferenceSession(probe.SerializeToString(), providers=["CPUExecutionProvider"])
    feeds = {k: np.zeros(tuple(v), np.float32) for k, v in input_shapes.items()}
    values = session.run(list(names), feeds)
    return {n: list(v.shape) for n, v in zip(names, values, strict=True)}


# --------------------------------------------------------------------------------------------------------
# Cache
# --------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class FaithfulModel:
    key: str
    relpath: str
    maker: Any
    count_inputs: dict[str, tuple[int, ...]]
    target_params: float
    target_macs: float
    note: str
    # where the published MAC figure applies, when not at count_inputs (SCRFD quotes FLOPs at VGA 640x480)
    target_inputs: dict[str, tuple[int, ...]] | None = None


MODELS: dict[str, FaithfulModel] = {
    "inswapper_128": FaithfulModel(
        "inswapper_128", INSWAPPER_FILE, make_inswapper,
        {"target": (1, 3, 128, 128), "source": (1, 512)}, 138e6, 175e9, "per face"),
    "det_10g": FaithfulModel(
        "det_10g", DET_FILE, make_det_10g, {"input.1": (1, 3, 640, 640)}, 4.2e6, 10e9, "at 640x640",
        target_inputs={"input.1": (1, 3, 480, 640)}),
    "w600k_r50": FaithfulModel(
        "w600k_r50", REC_FILE, make_w600k_r50, {"input.1": (1, 3, 112, 112)}, 43.6e6, 6.3e9, "per face"),
    "2d106det": FaithfulModel(
        "2d106det", LANDMARK_FILE, make_2d106det, {"data": (1, 3, 192, 192)}, 1.25e6, 0.5e9,
        "per face (MobileNet-0.5 per insightface's README, 5.0 MB; ~0.5 GMAC at 192x192)"),
}


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".json")


def _save_atomic(model: onnx.ModelProto, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    onnx.save(model, str(tmp))
    os.replace(tmp, path)


def model_info(key: str, cache_dir: Path = CACHE_DIR) -> dict[str, Any]:
    """The sidecar of a built model: version, parameters, MACs, targets."""
    return json.loads(_sidecar(cache_dir / MODELS[key].relpath).read_text())


def build(key: str, cache_dir: Path = CACHE_DIR, force: bool = False) -> Path:
    """Path of the cached faithful stand-in ``key``, building it first when missing or stale."""
    spec = MODELS[key]
    path = cache_dir / spec.relpath
    side = _sidecar(path)
    if not force and path.exists() and side.exists():
        try:
            if json.loads(side.read_text()).get("version") == BUILDER_VERSION:
                return path
        except ValueError:
            pass
    model = spec.maker()
    onnx.checker.check_model(model)
    info = {
        "version": BUILDER_VERSION,
        "model": key,
        "params": count_params(model),
        "macs": count_macs(model, spec.count_inputs),
        "macs_at": {k: list(v) for k, v in spec.count_inputs.items()},
        "target_params": spec.target_params,
        "target_macs": spec.target_macs,
        "target_macs_at": {k: list(v) for k, v in (spec.target_inputs or spec.count_inputs).items()},
        "macs_at_target_shape": (count_macs(model, spec.target_inputs) if spec.target_inputs
                                 else None),
        "note": spec.note,
    }
    _save_atomic(model, path)
    side.write_text(json.dumps(info, indent=2))
    return path


def build_inswapper(cache_dir: Path = CACHE_DIR, force: bool = False) -> Path:
    return build("inswapper_128", cache_dir, force)


def build_det_10g(cache_dir: Path = CACHE_DIR, force: bool = False) -> Path:
    return build("det_10g", cache_dir, force)


def build_w600k_r50(cache_dir: Path = CACHE_DIR, force: bool = False) -> Path:
    return build("w600k_r50", cache_dir, force)


def build_2d106det(cache_dir: Path = CACHE_DIR, force: bool = False) -> Path:
    return build("2d106det", cache_dir, force)


GFPGAN_FILE = "GFPGANv1.4.pth"


def build_gfpgan_pth(cache_dir: Path = CACHE_DIR) -> Path:
    """GFPGANv1.4.pth with the real architecture (app.models.gfpgan_arch, 86.4M parameters) and seeded random
    weights under `params_ema`, as the official file stores them (needs torch; built once)."""
    path = cache_dir / GFPGAN_FILE
    if path.is_file():
        return path
    import torch

    from app.models.gfpgan_arch import GFPGANv1Clean

    torch.manual_seed(0)
    net = GFPGANv1Clean().eval()
    with torch.no_grad():  # upstream zero-initialises noise strengths and biases; a trained net has not
        for name, p in net.named_parameters():
            if p.ndim <= 1 or name.endswith(".bias"):
                p.normal_(0.0, 0.05)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save({"params_ema": net.state_dict()}, tmp)
    os.replace(tmp, path)
    return path


def build_all(cache_dir: Path = CACHE_DIR, force: bool = False) -> dict[str, Path]:
    """All of them, laid out like a models folder (usable as ``--models-dir benchmarks/.cache``)."""
    return {key: build(key, cache_dir, force) for key in MODELS}


# --------------------------------------------------------------------------------------------------------
# Static int8 quantisation of the inswapper: the app's own build (app/core/int8.py), on the faithful model
# --------------------------------------------------------------------------------------------------------
INT8_DIR = "int8"  # under the cache: a models folder the app's int8 build runs in


def int8_models_dir(cache_dir: Path = CACHE_DIR) -> Path:
    """A models folder for the app's int8 build of the faithful inswapper: the faithful file (a link) with the
    stand-in detector and recognizer of tests/standins, which find the faces in the shipped photos (the
    faithful ones have random weights and find none). Calibration and the quality check then run exactly the
    app's code path: shipped photos, SCRFD points, 128 alignment, ArcFace latents through the emap."""
    from tests.standins import build_planted_detector, build_recognizer, photos

    folder = cache_dir / INT8_DIR
    folder.mkdir(parents=True, exist_ok=True)
    src = build_inswapper(cache_dir)
    link = folder / INSWAPPER_FILE
    if not link.is_symlink() or link.resolve() != src.resolve():
        link.unlink(missing_ok=True)
        link.symlink_to(src.resolve())
    det, rec = folder / DET_FILE, folder / REC_FILE
    if not det.is_file():
        build_planted_detector(det, [(sc.image, sc.faces) for sc in photos.all_scenes()])
    if not rec.is_file():
        build_recognizer(rec)
    return folder


def build_inswapper_int8(cache_dir: Path = CACHE_DIR, force: bool = False) -> Path:
    """The app's int8 build of the faithful inswapper (built once per faithful file; kept whatever its quality,
    since benchmarks time it either way: see its report beside it)."""
    from app.core.int8 import int8_status
    from app.core.int8_build import build_int8_swapper

    folder = int8_models_dir(cache_dir)
    status = int8_status(folder)
    if not force and status.path is not None and status.state in ("ready", "rejected"):
        return status.path
    return folder / build_int8_swapper(folder).model


def sample_face() -> np.ndarray:
    """A real face as the swapper's `target` blob (insightface's aligned Tom Hanks crop at 128x128)."""
    import cv2

    from app.core.int8_calibration import blob_from_crop, shipped_photos

    hanks = next(p for p in shipped_photos() if p.name == "Tom_Hanks_54745.png")
    return blob_from_crop(cv2.resize(cv2.imread(str(hanks)), (128, 128), interpolation=cv2.INTER_LINEAR))


if __name__ == "__main__":
    for k, p in build_all().items():
        info = model_info(k)
        at_target = (info["macs_at_target_shape"] or info["macs"]) / 1e9
        print(f"{k:14s} {p}  params {info['params'] / 1e6:.2f}M (target {info['target_params'] / 1e6:.1f}M)"
              f"  MACs {info['macs'] / 1e9:.2f}G at {info['macs_at']}"
              f" (target {info['target_macs'] / 1e9:.1f}G at {info['target_macs_at']}: {at_target:.2f}G)")
