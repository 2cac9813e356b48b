"""fp16 where it is safe, and the guard that checks it at load.

Policy (`to_half`): convolutions and linears ("heavy" ops) run in fp16 with fp16 weights; reductions, square
roots, divisions, powers, exponentials and normalisations ("fragile" ops: the AdaIN statistics, StyleGAN's
demodulation) run in fp32; everything else follows its inputs (fp32 if any input is fp32). The heavy ops that
feed an output without another heavy op in between (the output heads: the detector's score/box/point convs,
the swapper's last conv, GFPGAN's to-RGB convs) stay fp32 too. Outputs are fp32.

The guard (`disagreement`): the fp16 network's output on a probe is compared with the fp32 one; NaN/Inf (the
"black face" users of fp16 inswapper files report) or a difference beyond the bound means fp32 is used, and
the log says which and by how much.
"""

from __future__ import annotations

import logging
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, fx, nn

from app.core.torch_backend.device import fp16_by_default
from app.core.torch_backend.graph_passes import Recorded
from app.errors import OptionError

log = logging.getLogger(__name__)

PRECISIONS = ("auto", "fp32", "fp16")


def parse_precision(text: str | None) -> str:
    value = (text or "auto").strip().lower()
    if value not in PRECISIONS:
        raise OptionError(f"unknown precision {text!r}; choose from {', '.join(PRECISIONS)}")
    return value


def wants_fp16(precision: str, device: torch.device) -> bool:
    """fp16 is tried for `fp16`, and for `auto` on CUDA/ROCm devices."""
    precision = parse_precision(precision)
    return precision == "fp16" or (precision == "auto" and fp16_by_default(device))


# ------------------------------------------------------------------------------------------------- roles
class Role(Enum):
    HEAVY = "heavy"
    FRAGILE = "fragile"
    FOLLOW = "follow"


RoleOf = Callable[[fx.GraphModule, fx.Node], Role]

HEAVY_ONNX = frozenset({"Conv", "ConvTranspose", "Gemm", "MatMul"})
FRAGILE_ONNX = frozenset({
    "ReduceMean", "ReduceSum", "ReduceSumSquare", "ReduceL1", "ReduceL2", "ReduceLogSum", "ReduceLogSumExp",
    "ReduceProd", "Sqrt", "Div", "Pow", "Exp", "Log", "Reciprocal", "Softmax", "LogSoftmax", "CumSum",
    "InstanceNormalization", "LayerNormalization", "GroupNormalization", "LpNormalization", "Erf",
})


def onnx_roles(op_types: dict[str, str]) -> RoleOf:
    """Roles of a converted graph's nodes from the ONNX op behind each submodule."""

    def role(gm: fx.GraphModule, node: fx.Node) -> Role:
        op = op_types.get(str(node.target)) if node.op == "call_module" else None
        if op in HEAVY_ONNX:
            return Role.HEAVY
        if op in FRAGILE_ONNX:
            return Role.FRAGILE
        return Role.FOLLOW

    return role


_HEAVY_MODULES = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose2d, nn.Linear)
_FRAGILE_MODULES = (nn.InstanceNorm1d, nn.InstanceNorm2d, nn.LayerNorm, nn.GroupNorm, nn.Softmax, nn.LogSoftmax)
_HEAVY_FUNCTIONS = {F.conv1d, F.conv2d, F.conv3d, F.conv_transpose2d, F.linear, torch.matmul, operator.matmul,
                    torch.bmm, torch.mm, torch.addmm, torch.einsum}
_FRAGILE_FUNCTIONS = {torch.rsqrt, torch.sqrt, torch.mean, torch.sum, torch.var, torch.std, torch.pow,
                      operator.pow, operator.truediv, torch.div, torch.exp, torch.log, torch.norm, torch.cumsum,
                      F.softmax, F.log_softmax, F.instance_norm, F.layer_norm, F.group_norm, F.normalize}
_HEAVY_METHODS = {"matmul", "mm", "bmm"}
_FRAGILE_METHODS = {"pow", "sum", "mean", "var", "std", "rsqrt", "sqrt", "exp", "log", "norm", "softmax", "div",
                    "reciprocal", "cumsum"}


def torch_roles(gm: fx.GraphModule, node: fx.Node) -> Role:
    """Roles of a traced torch module's nodes (GFPGAN)."""
    if node.op == "call_module":
        module = gm.get_submodule(str(node.target))
        if isinstance(module, _HEAVY_MODULES):
            return Role.HEAVY
        if isinstance(module, _FRAGILE_MODULES):
            return Role.FRAGILE
    elif node.op == "call_function":
        if node.target in _HEAVY_FUNCTIONS:
            return Role.HEAVY
        if node.target in _FRAGILE_FUNCTIONS:
            return Role.FRAGILE
    elif node.op == "call_method":
        if node.target in _HEAVY_METHODS:
            return Role.HEAVY
        if node.target in _FRAGILE_METHODS:
            return Role.FRAGILE
    return Role.FOLLOW


# ------------------------------------------------------------------------------------------------- pass
def output_heads(gm: fx.GraphModule, roles: dict[fx.Node, Role]) -> set[fx.Node]:
    """Heavy nodes that reach an output without passing another heavy node."""
    heads: set[fx.Node] = set()
    seen: set[fx.Node] = set()
    stack = [n for n in gm.graph.nodes if n.op == "output"]
    while stack:
        node = stack.pop()
        for arg in node.all_input_nodes:
            if arg in seen:
                continue
            seen.add(arg)
            if roles.get(arg) is Role.HEAVY:
                heads.add(arg)
            else:
                stack.append(arg)
    return heads


def to_half(gm: fx.GraphModule, records: dict[fx.Node, Recorded], role_of: RoleOf,
            keep_heads_fp32: bool = True) -> int:
    """Rewrite `gm` (recorded in fp32 by `graph_passes.record`) to the fp16 policy; returns the number of
    heavy nodes now in fp16. Constant casts are left for `graph_passes.specialise` to fold."""
    graph = gm.graph
    roles = {n: role_of(gm, n) for n in graph.nodes if n.op in ("call_module", "call_function", "call_method")}
    heads = output_heads(gm, roles) if keep_heads_fp32 else set()
    half, full = torch.float16, torch.float32
    dtype: dict[fx.Node, torch.dtype | None] = {}
    casts: dict[tuple[fx.Node, torch.dtype], fx.Node] = {}

    def is_float(n: Any) -> bool:
        return isinstance(n, fx.Node) and n in records and records[n].float_tensor

    def is_const(n: fx.Node) -> bool:
        return records[n].const if n in records else False

    def cast(n: fx.Node, to: torch.dtype) -> fx.Node:
        key = (n, to)
        if key not in casts:
            with graph.inserting_after(n):
                casts[key] = graph.call_method("to", (n, to))
        return casts[key]

    def rewrite_args(node: fx.Node, want: Callable[[fx.Node], torch.dtype | None]) -> None:
        def fix(a: fx.Node) -> fx.Node:
            if not is_float(a):
                return a
            target = want(a)
            if target is None or dtype.get(a) == target:
                return a
            return cast(a, target)

        node.args = fx.node.map_arg(node.args, fix)
        node.kwargs = fx.node.map_arg(node.kwargs, fix)

    # a module called from several nodes would need one dtype for all its calls: keep those in fp32
    calls: dict[str, int] = {}
    for node in graph.nodes:
        if node.op == "call_module":
            calls[str(node.target)] = calls.get(str(node.target), 0) + 1
    heavy_count = 0
    for node in list(graph.nodes):
        if node.op == "placeholder":
            dtype[node] = full if records[node].float_tensor else None
            continue
        if node.op == "get_attr" or node.op == "output" or not records[node].float_tensor:
            dtype[node] = None
            continue
        if is_const(node):
            dtype[node] = None
            continue
        role = roles.get(node, Role.FOLLOW)
        if node.op == "call_module" and calls[str(node.target)] > 1:
            role = Role.FRAGILE
        if role is Role.HEAVY:
            target = full if node in heads else half
        elif role is Role.FRAGILE:
            target = full
        else:
            active = [dtype.get(a) for a in node.all_input_nodes if is_float(a) and not is_const(a)]
            target = full if full in active else (half if half in active else full)
        dtype[node] = target
        if role is Role.FOLLOW and target is full:
            rewrite_args(node, lambda a: None if is_const(a) else full)
        else:
            rewrite_args(node, lambda a, t=target: t)  # type: ignore[misc]
        if node.op == "call_module" and target is half:
            gm.get_submodule(str(node.target)).to(half)
        heavy_count += int(role is Role.HEAVY and target is half)

    out = next(n for n in graph.nodes if n.op == "output")
    out.args = fx.node.map_arg(out.args, lambda a: cast(a, full) if dtype.get(a) is half else a)
    graph.lint()
    gm.recompile()
    return heavy_count


# ------------------------------------------------------------------------------------------------ guard
@dataclass(frozen=True)
class Bound:
    """How far fp16 may stray from fp32 on the probe: mean and 99th-percentile absolute differences, in
    `unit`s after multiplying raw differences by `scale` (255 for images in [0,1]: levels)."""

    mean: float
    p99: float
    scale: float = 1.0
    unit: str = ""


def disagreement(reference: Sequence[Tensor], candidate: Sequence[Tensor], bound: Bound) -> str | None:
    """None when `candidate` (fp16) stays within `bound` of `reference` (fp32); else why not, in words."""
    for i, (ref, got) in enumerate(zip(reference, candidate, strict=True)):
        got32 = got.detach().float()
        bad = (~torch.isfinite(got32)).sum().item()
        if bad:
            return f"output {i} has {bad} NaN/Inf values of {got32.numel()}"
        diff = (got32 - ref.detach().float()).abs().flatten() * bound.scale
        if diff.numel() == 0:
            continue
        mean = float(diff.mean())
        p99 = float(torch.quantile(diff[:: max(1, diff.numel() // 1_000_000)], 0.99))
        if mean > bound.mean or p99 > bound.p99:
            unit = f" {bound.unit}" if bound.unit else ""
            return (f"output {i} differs from fp32 by {mean:.3g}{unit} on average, {p99:.3g}{unit} at the "
                    f"99th percentile (bound {bound.mean:g} / {bound.p99:g})")
    return None
