"""Reading the inswapper graph's structure into a plan for the hand-fused module (`inswapper_fused`).

The real graph spells each AdaIN out in nine nodes and each style vector in a Gemm, an Unsqueeze and two
Slices; run node by node that is ~316 small kernels per face. `plan_from_onnx` walks the graph once and
recognises what the nodes compute:

- Pad(reflect) + Conv -> one padded convolution; LeakyRelu/Relu/Tanh -> activations (in place when nothing else
  reads their input); Add/Sub/Mul/Div by a scalar constant -> one affine step (the closing (x+1)/2 merges with
  nothing else in between);
- ReduceMean, Sub, Mul, ReduceMean, Add(eps), Sqrt, Div, Mul(gamma), Add(beta) -> one instance norm (fp32)
  times the style's scale plus its shift;
- all Gemms on the source latent -> ONE linear whose output columns hold every style vector; the Unsqueeze /
  Slice pairs become column ranges of it;
- Resize by constant scales -> interpolate; Add of two activations -> a residual add.

Anything else in the graph raises `FusionError` (the caller then keeps the generic conversion).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import onnx
from onnx import numpy_helper


class FusionError(Exception):
    """The graph has something the fused module does not build; keep the generic conversion."""


@dataclass
class Step:
    kind: str  # conv | act | adain | add | affine | resize
    inputs: tuple[int, ...]
    output: int
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class Plan:
    steps: list[Step]
    convs: list[tuple[np.ndarray, np.ndarray | None, dict[str, Any]]]
    gemms: list[tuple[np.ndarray, np.ndarray]]
    input_reg: int
    output_reg: int
    latent_name: str


def _attr(node: onnx.NodeProto, name: str, default: Any = None) -> Any:
    for a in node.attribute:
        if a.name == name:
            return onnx.helper.get_attribute_value(a)
    return default


class _Walker:
    def __init__(self, model: onnx.ModelProto, target: str, latent: str) -> None:
        self.consts: dict[str, np.ndarray] = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
        self.sym: dict[str, tuple[Any, ...]] = {target: ("act", 0), latent: ("latent",)}
        self.steps: list[Step] = []
        self.convs: list[tuple[np.ndarray, np.ndarray | None, dict[str, Any]]] = []
        self.gemms: list[tuple[np.ndarray, np.ndarray]] = []
        self.regs = 1

    def new_reg(self) -> int:
        self.regs += 1
        return self.regs - 1

    def emit(self, kind: str, inputs: Sequence[int], **params: Any) -> tuple[Any, ...]:
        reg = self.new_reg()
        self.steps.append(Step(kind, tuple(inputs), reg, params))
        return ("act", reg)

    def const(self, name: str) -> np.ndarray | None:
        return self.consts.get(name)

    def sym_of(self, name: str) -> tuple[Any, ...]:
        if name in self.sym:
            return self.sym[name]
        if name in self.consts:
            return ("const", name)
        raise FusionError(f"value {name!r} comes from nothing the fused module understands")

    def scalar(self, name: str) -> float | None:
        value = self.const(name)
        return float(value.reshape(-1)[0]) if value is not None and value.size == 1 else None

    def walk(self, node: onnx.NodeProto) -> tuple[Any, ...]:
        op = node.op_type
        if op == "Constant":
            self.consts[node.output[0]] = numpy_helper.to_array(_attr(node, "value"))
            return ("const", node.output[0])
        ins = [self.sym_of(n) if n else ("none",) for n in node.input]
        kinds = [s[0] for s in ins]
        handler = getattr(self, f"op_{op}", None)
        if handler is None:
            raise FusionError(f"{op} node {node.name!r} is not part of the fused structure")
        result: tuple[Any, ...] | None = handler(node, ins, kinds)
        if result is None:
            raise FusionError(f"{op} node {node.name!r} with inputs {kinds} is not part of the fused structure")
        return result

    # --------------------------------------------------------------------------------- op handlers
    def op_Pad(self, node: onnx.NodeProto, ins: list[tuple[Any, ...]], kinds: list[str]) -> Any:
        pads = self.const(node.input[1]) if len(node.input) > 1 else np.asarray(_attr(node, "pads"))
        mode = _attr(node, "mode", b"constant")
        mode = mode.decode() if isinstance(mode, bytes) else mode
        if kinds[0] != "act" or pads is None or mode != "reflect":
            return None
        p = [int(v) for v in pads]
        if p[:2] != [0, 0] or p[4:6] != [0, 0] or p[2] != p[6] or p[3] != p[7]:
            return None
        return ("padded", ins[0][1], (p[2], p[3]))

    def op_Conv(self, node: onnx.NodeProto, ins: list[tuple[Any, ...]], kinds: list[str]) -> Any:
        weight = self.const(node.input[1])
        bias = self.const(node.input[2]) if len(node.input) > 2 else None
        pads = list(_attr(node, "pads", [0, 0, 0, 0]))
        if weight is None or weight.ndim != 4 or _attr(node, "group", 1) != 1 or pads[:2] != pads[2:]:
            return None
        if list(_attr(node, "dilations", [1, 1])) != [1, 1] or _attr(node, "auto_pad", b"NOTSET") not in (
            b"NOTSET", "NOTSET"
        ):
            return None
        reflect = (0, 0)
        if kinds[0] == "padded":
            reg, reflect = ins[0][1], ins[0][2]
        elif kinds[0] == "act":
            reg = ins[0][1]
        else:
            return None
        stride = tuple(int(s) for s in _attr(node, "strides", [1, 1]))
        self.convs.append((weight, bias, {"stride": stride, "padding": (pads[0], pads[1])}))
        return self.emit("conv", [reg], index=len(self.convs) - 1, reflect=reflect)

    def _act(self, ins: list[tuple[Any, ...]], kinds: list[str], fn: str, alpha: float = 0.0) -> Any:
        return self.emit("act", [ins[0][1]], fn=fn, alpha=alpha) if kinds[0] == "act" else None

    def op_LeakyRelu(self, node: onnx.NodeProto, ins: list[tuple[Any, ...]], kinds: list[str]) -> Any:
        return self._act(ins, kinds, "leaky", float(_attr(node, "alpha", 0.01)))

    def op_Relu(self, node: onnx.NodeProto, ins: list[tuple[Any, ...]], kinds: list[str]) -> Any:
        return self._act(ins, kinds, "relu")

    def op_Tanh(self, node: onnx.NodeProto, ins: list[tuple[Any, ...]], kinds: list[str]) -> Any:
        return self._act(ins, kinds, "tanh")

    def op_Gemm(self, node: onnx.NodeProto, ins: list[tuple[Any, ...]], kinds: list[str]) -> Any:
        w, b = self.const(node.input[1]), self.const(node.input[2]) if len(node.input) > 2 else None
        if kinds[0] != "latent" or w is None or _attr(node, "transA", 0):
            return None
        w = w if _attr(node, "transB", 0) else w.T
        w = w * float(_attr(node, "alpha", 1.0))
        b = np.zeros(w.shape[0], np.float32) if b is None else b.reshape(-1) * float(_attr(node, "beta", 1.0))
        self.gemms.append((np.ascontiguousarray(w, np.float32), b.astype(np.float32)))
        return ("style", len(self.gemms) - 1, 0, w.shape[0], 2)

    def op_Unsqueeze(self, node: onnx.NodeProto, ins: list[tuple[Any, ...]], kinds: list[str]) -> Any:
        axes = _attr(node, "axes")
        if axes is None and len(node.input) > 1:
            given = self.const(node.input[1])
            axes = None if given is None else given.tolist()
        if kinds[0] != "style" or not axes:
            return None
        rank = ins[0][4]
        if sorted(int(a) for a in axes) != list(range(rank, rank + len(axes))):
            return None  # only trailing unit axes: [N, C] -> [N, C, 1, 1]
        return (*ins[0][:4], rank + len(axes))

    def op_Reshape(self, node: onnx.NodeProto, ins: list[tuple[Any, ...]], kinds: list[str]) -> Any:
        shape = self.const(node.input[1])
        if kinds[0] != "style" or ins[0][4] != 2 or shape is None:
            return None
        _, g, start, end, _ = ins[0]
        if [int(v) for v in shape[1:]] != [end - start, 1, 1] or int(shape[0]) not in (1, -1, 0):
            return None
        return ("style", g, start, end, 4)  # a batch fixed at 1 here is the one thing the fused module frees

    def op_Slice(self, node: onnx.NodeProto, ins: list[tuple[Any, ...]], kinds: list[str]) -> Any:
        if kinds[0] != "style":
            return None
        starts, ends = self.const(node.input[1]), self.const(node.input[2])
        axes = self.const(node.input[3]) if len(node.input) > 3 and node.input[3] else np.array([0])
        steps = self.const(node.input[4]) if len(node.input) > 4 and node.input[4] else np.array([1])
        if starts is None or ends is None or axes is None or steps is None or starts.size != 1:
            return None
        _, g, lo, hi, rank = ins[0]
        if int(axes[0]) % rank != 1 or int(steps[0]) != 1:
            return None
        size = hi - lo
        a, b = (int(starts[0]), int(ends[0]))
        a, b = max(0, a + size if a < 0 else a), min(size, b + size if b < 0 else b)
        return ("style", g, lo + a, lo + b, rank)

    def op_ReduceMean(self, node: onnx.NodeProto, ins: list[tuple[Any, ...]], kinds: list[str]) -> Any:
        if sorted(int(a) % 4 for a in _attr(node, "axes", [])) != [2, 3] or _attr(node, "keepdims", 1) != 1:
            return None
        if kinds[0] == "act":
            return ("mean", ins[0][1])
        if kinds[0] == "sq":
            return ("var", ins[0][1])
        return None

    def op_Sub(self, node: onnx.NodeProto, ins: list[tuple[Any, ...]], kinds: list[str]) -> Any:
        if kinds == ["act", "mean"] and ins[0][1] == ins[1][1]:
            return ("diff", ins[0][1])
        return self._affine(node, ins, kinds, "sub")

    def op_Mul(self, node: onnx.NodeProto, ins: list[tuple[Any, ...]], kinds: list[str]) -> Any:
        if kinds == ["diff", "diff"] and ins[0] == ins[1]:
            return ("sq", ins[0][1])
        for norm, gamma in ((0, 1), (1, 0)):
            if kinds[norm] == "norm" and kinds[gamma] == "style" and ins[gamma][4] == 4:
                return ("scaled", ins[norm][1], ins[norm][2], ins[gamma])
        return self._affine(node, ins, kinds, "mul")

    def op_Pow(self, node: onnx.NodeProto, ins: list[tuple[Any, ...]], kinds: list[str]) -> Any:
        if kinds[0] == "diff" and self.scalar(node.input[1]) == 2.0:
            return ("sq", ins[0][1])
        return None

    def op_Sqrt(self, node: onnx.NodeProto, ins: list[tuple[Any, ...]], kinds: list[str]) -> Any:
        return ("std", ins[0][1], ins[0][2]) if kinds[0] == "var_eps" else None

    def op_Div(self, node: onnx.NodeProto, ins: list[tuple[Any, ...]], kinds: list[str]) -> Any:
        if kinds == ["diff", "std"] and ins[0][1] == ins[1][1]:
            return ("norm", ins[0][1], ins[1][2])
        return self._affine(node, ins, kinds, "div")

    def op_Add(self, node: onnx.NodeProto, ins: list[tuple[Any, ...]], kinds: list[str]) -> Any:
        if kinds == ["act", "act"]:
            return self.emit("add", [ins[0][1], ins[1][1]])
        for v, c in ((0, 1), (1, 0)):
            if kinds[v] == "var" and kinds[c] == "const" and self.scalar(node.input[c]) is not None:
                return ("var_eps", ins[v][1], self.scalar(node.input[c]))
            if kinds[v] == "scaled" and kinds[c] == "style" and ins[c][4] == 4:
                _, x, eps, gamma = ins[v]
                return self.emit("adain", [x], eps=eps, gamma=gamma[1:4], beta=ins[c][1:4])
        return self._affine(node, ins, kinds, "add")

    def _affine(self, node: onnx.NodeProto, ins: list[tuple[Any, ...]], kinds: list[str], op: str) -> Any:
        if sorted(kinds) != ["act", "const"]:
            return None
        c = self.scalar(node.input[kinds.index("const")])
        if c is None:
            return None
        first_is_act = kinds[0] == "act"
        scale, shift = {
            "add": (1.0, c),
            "mul": (c, 0.0),
            "sub": (1.0, -c) if first_is_act else (-1.0, c),
            "div": (1.0 / c, 0.0) if first_is_act else (None, None),
        }[op]
        if scale is None:
            return None
        return self.emit("affine", [ins[kinds.index("act")][1]], scale=scale, shift=shift)

    def op_Resize(self, node: onnx.NodeProto, ins: list[tuple[Any, ...]], kinds: list[str]) -> Any:
        mode = _attr(node, "mode", b"nearest")
        mode = mode.decode() if isinstance(mode, bytes) else mode
        ctm = _attr(node, "coordinate_transformation_mode", b"half_pixel")
        ctm = ctm.decode() if isinstance(ctm, bytes) else ctm
        scales = self.const(node.input[2]) if len(node.input) > 2 and node.input[2] else None
        if kinds[0] != "act" or scales is None or scales.size != 4 or list(scales[:2]) != [1.0, 1.0]:
            return None
        if mode == "linear" and ctm in ("half_pixel", "pytorch_half_pixel"):
            torch_mode, align = "bilinear", False
        elif mode == "nearest" and ctm == "asymmetric":
            torch_mode, align = "nearest", None
        else:
            return None
        return self.emit("resize", [ins[0][1]], mode=torch_mode, align=align,
                         scale=(float(scales[2]), float(scales[3])))


def plan_from_onnx(model: onnx.ModelProto, target: str = "target", latent: str = "source",
                   output: str = "output") -> Plan:
    """Read the graph's structure into a plan for `FusedInswapper` (FusionError when it is not the known one)."""
    walker = _Walker(model, target, latent)
    for node in model.graph.node:
        result = walker.walk(node)
        for name in node.output:
            walker.sym[name] = result
    out = walker.sym.get(output)
    if out is None or out[0] != "act" or not walker.gemms or not walker.convs:
        raise FusionError("the graph's output is not a convolutional activation driven by style linears")
    return Plan(_merge_affines(walker.steps), walker.convs, walker.gemms, 0, out[1], latent)


def _merge_affines(steps: list[Step]) -> list[Step]:
    uses: dict[int, int] = {}
    for s in steps:
        for r in s.inputs:
            uses[r] = uses.get(r, 0) + 1
    merged: list[Step] = []
    producer: dict[int, Step] = {}
    for s in steps:
        prev = producer.get(s.inputs[0]) if s.kind == "affine" else None
        if prev is not None and prev.kind == "affine" and uses.get(prev.output) == 1:
            a1, b1, a2, b2 = prev.params["scale"], prev.params["shift"], s.params["scale"], s.params["shift"]
            prev.params.update(scale=a1 * a2, shift=b1 * a2 + b2)
            prev.output = s.output
            producer[s.output] = prev
            continue
        merged.append(s)
        producer[s.output] = s
    return merged
