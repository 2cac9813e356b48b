"""Passes over a torch.fx graph that make a converted network fast and capturable for fixed input shapes.

onnx2torch keeps every ONNX input a tensor at run time: pads, slice bounds, resize scales and reshape targets
are read back with `.tolist()`/`bool()` on every call (a device -> host sync on a GPU, which also breaks CUDA
graph capture), and `Shape` builds a new tensor from host data. `specialise` fixes that for the shapes a model
actually runs at:

1. one recorded run at the example inputs decides which nodes do not depend on the input data (initializers,
   Constant nodes, arithmetic on them, and with `fold_shapes` the Shape of a tensor, whose shape is fixed);
2. those are folded: the ones used by the rest of the graph become buffers or Python literals;
3. modules whose remaining arguments are now constants are replaced by static ones (`static_ops`).

`host_reads` then proves the result reads nothing from the device on the host: it runs the graph on meta
tensors (no data), where any `.item()`/`.tolist()`/`bool(tensor)` raises, and names the node that did.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, cast

import torch
from torch import Tensor, fx, nn

from app.core.torch_backend import static_ops

log = logging.getLogger(__name__)

_SHAPE_METHODS = {"size", "dim"}
_MAX_FOLDED_ELEMENTS = 1 << 26  # a folded constant bigger than this stays computed (it would double memory)


@dataclass
class Recorded:
    """What one run at the example inputs showed about a node."""

    const: bool
    value: Any = None  # kept for constant nodes only
    float_tensor: bool = False
    rank: int | None = None
    shape: tuple[int, ...] | None = None


def _is_shape_query(gm: fx.GraphModule, node: fx.Node) -> bool:
    if node.op == "call_module":
        return type(gm.get_submodule(str(node.target))).__name__ == "OnnxShape"
    if node.op == "call_method":
        return node.target in _SHAPE_METHODS
    if node.op == "call_function" and node.target is getattr:
        return len(node.args) > 1 and node.args[1] == "shape"
    return False


def _materialisable(value: Any) -> bool:
    if isinstance(value, Tensor):
        return value.numel() <= _MAX_FOLDED_ELEMENTS
    if value is None or isinstance(value, int | float | bool | str | torch.dtype | torch.device | slice):
        return True
    if isinstance(value, list | tuple):
        return all(_materialisable(v) for v in value)
    return False


def _node_args(node: fx.Node) -> list[fx.Node]:
    return list(node.all_input_nodes)


class _Recorder(fx.Interpreter):
    """Runs the graph once, deciding constness node by node and keeping only constant values."""

    def __init__(self, gm: fx.GraphModule, fold_shapes: bool) -> None:
        super().__init__(gm)
        self.fold_shapes = fold_shapes
        self.records: dict[fx.Node, Recorded] = {}
        self._users_left: dict[fx.Node, int] = {n: len(n.users) for n in gm.graph.nodes}

    def run_node(self, n: fx.Node) -> Any:
        value = super().run_node(n)
        if n.op == "placeholder":
            const = False
        elif n.op == "get_attr":
            const = True
        elif n.op == "output":
            const = False
        else:
            gm = cast(fx.GraphModule, self.module)
            inputs_const = all(self.records[a].const for a in _node_args(n))
            const = inputs_const or (self.fold_shapes and _is_shape_query(gm, n))
            const = const and not _has_side_effects(gm, n) and _materialisable(value)
        is_tensor = isinstance(value, Tensor)
        self.records[n] = Recorded(
            const=const,
            value=value if const else None,
            float_tensor=is_tensor and value.is_floating_point(),
            rank=value.dim() if is_tensor else None,
            shape=tuple(value.shape) if is_tensor else None,
        )
        return value


def _has_side_effects(gm: fx.GraphModule, node: fx.Node) -> bool:
    # random draws must stay draws; in-place methods mutate their input
    if node.op == "call_method":
        return str(node.target).endswith("_")
    if node.op == "call_function":
        return getattr(node.target, "__name__", "") in {"normal", "rand", "randn", "randint", "bernoulli"}
    return False


def record(gm: fx.GraphModule, example_inputs: Sequence[Tensor], fold_shapes: bool) -> dict[fx.Node, Recorded]:
    """Run `gm` once on `example_inputs`; constness and metadata of every node."""
    recorder = _Recorder(gm, fold_shapes)
    with torch.inference_mode(), warnings.catch_warnings():
        # onnx2torch's Slice indexes with a list, deprecated since torch 2.9; after `specialise` it is gone
        warnings.filterwarnings("ignore", message="Using a non-tuple sequence for multidimensional indexing")
        recorder.run(*example_inputs)
    return recorder.records


# ----------------------------------------------------------------------------------------------- folding
def _fresh_name(gm: fx.GraphModule, prefix: str) -> str:
    i = 0
    while hasattr(gm, f"{prefix}{i}"):
        i += 1
    return f"{prefix}{i}"


def _as_arg(gm: fx.GraphModule, graph: fx.Graph, after: fx.Node, value: Any) -> Any:
    """A literal usable as an fx argument, with tensors registered as buffers behind get_attr nodes."""
    if isinstance(value, Tensor):
        name = _fresh_name(gm, "_folded")
        gm.register_buffer(name, value.detach().clone())
        with graph.inserting_after(after):
            return graph.get_attr(name)
    if isinstance(value, list | tuple):
        items = [_as_arg(gm, graph, after, v) for v in value]
        return type(value)(items) if not hasattr(value, "_fields") else type(value)(*items)
    return value


def fold_constants(gm: fx.GraphModule, records: dict[fx.Node, Recorded]) -> int:
    """Replace every constant node that feeds a non-constant one by its value; returns how many."""
    graph = gm.graph
    folded = 0
    for node in list(graph.nodes):
        rec = records.get(node)
        if rec is None or not rec.const or node.op == "get_attr":
            continue
        users = [u for u in node.users if not records.get(u, Recorded(False)).const]
        if not users:
            continue
        replacement = _as_arg(gm, graph, node, rec.value)

        def swap(arg: fx.Node, old: fx.Node = node, new: Any = replacement) -> Any:
            return new if arg is old else arg

        for user in users:
            user.args = fx.node.map_arg(user.args, swap)
            user.kwargs = fx.node.map_arg(user.kwargs, swap)
        if isinstance(replacement, fx.Node):
            records[replacement] = Recorded(const=True, value=rec.value, float_tensor=rec.float_tensor)
        folded += 1
    return folded


# ---------------------------------------------------------------------------------------- specialisation
def const_value(gm: fx.GraphModule, arg: Any) -> tuple[bool, Any]:
    """(True, value) when `arg` is a literal or a get_attr of a tensor; (False, None) for run-time values."""
    if isinstance(arg, fx.Node):
        if arg.op != "get_attr":
            return False, None
        return True, _fetch(gm, str(arg.target))
    return True, arg


def _fetch(gm: nn.Module, target: str) -> Any:
    obj: Any = gm
    for part in target.split("."):
        obj = getattr(obj, part)
    return obj


def _set_submodule(gm: fx.GraphModule, target: str, module: nn.Module) -> None:
    parent_name, _, leaf = target.rpartition(".")
    parent = gm.get_submodule(parent_name) if parent_name else gm
    setattr(parent, leaf, module)


def specialise_modules(gm: fx.GraphModule, records: dict[fx.Node, Recorded]) -> int:
    """Swap modules that read constant tensor arguments on the host for static equivalents."""
    count = 0
    for node in list(gm.graph.nodes):
        if node.op != "call_module":
            continue
        module = gm.get_submodule(str(node.target))
        in_rec = records.get(node.args[0]) if node.args and isinstance(node.args[0], fx.Node) else None
        replacement = static_ops.static_replacement(
            module, node.args, dict(node.kwargs), lambda a: const_value(gm, a), in_rec.shape if in_rec else None
        )
        if replacement is None:
            continue
        _set_submodule(gm, str(node.target), replacement)
        node.args, node.kwargs = (node.args[0],), {}
        count += 1
    return count


def drop_unused_tensors(gm: fx.GraphModule) -> None:
    """Delete parameters and buffers no node reads any more (e.g. float32 weights whose float16 copies were
    folded in), so a converted model holds one copy of its weights."""
    used: set[str] = set()
    for node in gm.graph.nodes:
        if node.op == "get_attr":
            used.add(str(node.target))
        elif node.op == "call_module":
            prefix = f"{node.target}."
            sub = gm.get_submodule(str(node.target))
            used.update(prefix + n for n, _ in sub.named_parameters(remove_duplicate=False))
            used.update(prefix + n for n, _ in sub.named_buffers(remove_duplicate=False))
    names = [n for n, _ in gm.named_parameters(remove_duplicate=False)]
    names += [n for n, _ in gm.named_buffers(remove_duplicate=False)]
    for name in names:
        if name in used:
            continue
        owner_name, _, leaf = name.rpartition(".")
        owner = gm.get_submodule(owner_name) if owner_name else gm
        if leaf in owner._parameters:
            del owner._parameters[leaf]
        elif leaf in owner._buffers:
            del owner._buffers[leaf]


def cleanup(gm: fx.GraphModule) -> None:
    gm.graph.eliminate_dead_code()
    gm.delete_all_unused_submodules()
    drop_unused_tensors(gm)
    gm.graph.lint()
    gm.recompile()


def specialise(gm: fx.GraphModule, example_inputs: Sequence[Tensor], fold_shapes: bool = True) -> dict[str, int]:
    """Fold constants (and, with `fold_shapes`, shape arithmetic) at `example_inputs`' shapes, then make
    host-reading modules static. Mutates `gm`; returns counts for the log."""
    records = record(gm, example_inputs, fold_shapes)
    folded = fold_constants(gm, records)
    cleanup(gm)
    specialised = specialise_modules(gm, records)
    cleanup(gm)
    return {"folded": folded, "static": specialised}


# --------------------------------------------------------------------------------------- host-read check
class _MetaRunner(fx.Interpreter):
    def __init__(self, gm: fx.GraphModule) -> None:
        super().__init__(gm)
        self.current: fx.Node | None = None

    def run_node(self, n: fx.Node) -> Any:
        self.current = n
        return super().run_node(n)


def _meta_state(gm: nn.Module) -> Iterator[tuple[nn.Module, str, bool, Tensor]]:
    for module in gm.modules():
        for name, p in list(module._parameters.items()):
            if p is not None:
                yield module, name, True, p
        for name, b in list(module._buffers.items()):
            if b is not None:
                yield module, name, False, b


def host_reads(gm: fx.GraphModule, example_inputs: Sequence[Tensor]) -> str | None:
    """None when running `gm` needs no device data on the host; else the first node that reads it.

    Runs on meta tensors (shapes only): `.item()`, `.tolist()`, `bool(t)` and copies to the host raise there.
    Weights are swapped for meta tensors for the run and put back after, so nothing is copied.
    """
    saved = list(_meta_state(gm))
    runner = _MetaRunner(gm)
    try:
        for module, name, is_param, t in saved:
            meta = torch.empty_like(t, device="meta")
            if is_param:
                module._parameters[name] = nn.Parameter(meta, requires_grad=False)
            else:
                module._buffers[name] = meta
        with torch.inference_mode():
            runner.run(*[torch.empty_like(t, device="meta") for t in example_inputs])
    except Exception as exc:  # any failure on meta means "reads data": we only need to know where
        node = runner.current
        where = f"{node.op} {node.target}" if node is not None else "?"
        return f"{where}: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    finally:
        for module, name, is_param, t in saved:
            if is_param:
                module._parameters[name] = t  # type: ignore[assignment]
            else:
                module._buffers[name] = t
    return None

