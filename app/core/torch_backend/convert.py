"""ONNX -> torch, generically: onnx2torch builds a torch.fx graph from any file, `graph_passes` specialises it to
the shapes it runs at (constants folded, shape arithmetic fixed, host reads removed).

A graph that cannot run in torch raises `ConversionError` with the reason (an op without a converter, a Conv
whose weights are computed at run time, a result that does not agree with onnxruntime's contract), so the
caller can run that model on onnxruntime instead.

onnx2torch imports torchvision at import time, for its NonMaxSuppression and RoiAlign converters only. A
torch-only machine (the usual CUDA box: torch, no torchvision) would then be unable to import it at all; so when
torchvision cannot be imported, onnx2torch is imported with a placeholder `torchvision` module in place for the
duration of the import, and graphs using those two ops are refused up front (`missing_converters`).
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import sys
import types
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import onnx

from app.core.torch_backend import ConversionError, TorchUnavailable
from app.core.torch_backend.device import import_torch

log = logging.getLogger(__name__)

ONNX2TORCH_HINT = 'pip install "deep-live-cam[torch]"'
_TORCHVISION_OPS = {"NonMaxSuppression", "RoiAlign"}


def _torchvision_works() -> bool:
    try:
        importlib.import_module("torchvision.ops")
    except Exception:  # absent, or a build that does not match this torch (it raises RuntimeError then)
        # drop what a failed import left half-initialised (a None placed to block it stays)
        for name in [n for n in sys.modules if n == "torchvision" or n.startswith("torchvision.")]:
            if sys.modules[name] is not None:
                del sys.modules[name]
        return False
    return True


def _unavailable(*_args: Any, **_kwargs: Any) -> Any:
    raise RuntimeError("torchvision is not installed: NonMaxSuppression/RoiAlign cannot run in torch here")


@contextlib.contextmanager
def _torchvision_placeholder() -> Iterator[None]:
    package = types.ModuleType("torchvision")
    ops = types.ModuleType("torchvision.ops")
    ops.nms = ops.roi_align = ops.box_convert = _unavailable  # type: ignore[attr-defined]
    package.ops = ops  # type: ignore[attr-defined]
    sys.modules["torchvision"], sys.modules["torchvision.ops"] = package, ops
    try:
        yield
    finally:
        for name in ("torchvision", "torchvision.ops"):
            if sys.modules.get(name) in (package, ops):
                del sys.modules[name]


def _imported_with_placeholder() -> bool:
    nms_module = sys.modules.get("onnx2torch.node_converters.nms")
    torchvision = getattr(nms_module, "torchvision", None)
    return getattr(getattr(torchvision, "ops", None), "nms", None) is _unavailable


def import_onnx2torch() -> types.ModuleType:
    """onnx2torch (and torch), or TorchUnavailable saying what to install."""
    import_torch()
    if "onnx2torch" in sys.modules:
        return sys.modules["onnx2torch"]
    try:
        if _torchvision_works():
            return importlib.import_module("onnx2torch")
        with _torchvision_placeholder():
            return importlib.import_module("onnx2torch")
    except ImportError as exc:
        raise TorchUnavailable(f"Running ONNX files in torch needs onnx2torch, which cannot be imported ({exc}). "
                               f"Install it ({ONNX2TORCH_HINT}) or use the onnxruntime backend.") from exc


def missing_converters(model: onnx.ModelProto) -> list[str]:
    """The graph's ops that onnx2torch cannot convert here, as 'Op (opset N)'."""
    import_onnx2torch()
    from onnx2torch.node_converters import get_converter

    opsets = {o.domain or "": o.version for o in model.opset_import}
    torchvision_ok = not _imported_with_placeholder()
    missing: list[str] = []
    for node in model.graph.node:
        domain = node.domain or ""
        label = f"{node.op_type} (opset {opsets.get(domain, '?')})"
        if label in missing:
            continue
        try:
            get_converter(domain=domain, operation_type=node.op_type, version=opsets.get(domain, 0))
        except NotImplementedError:
            missing.append(label)
            continue
        if node.op_type in _TORCHVISION_OPS and not torchvision_ok:
            missing.append(label)
    return missing


@dataclass
class Converted:
    """A converted graph: the fx module, and the ONNX op type behind each of its submodules."""

    module: Any  # torch.fx.GraphModule
    op_types: dict[str, str]
    input_names: list[str]
    output_names: list[str]
    counts: dict[str, int] = field(default_factory=dict)
    example_outputs: list[Any] = field(default_factory=list)  # the converted network's outputs at the example
    host_read: str | None = None  # None: nothing reads device data on the host (capturable)


def _module_op_types(model: onnx.ModelProto) -> dict[str, str]:
    """The ONNX op type behind each submodule onnx2torch creates (named as its OnnxGraph names nodes)."""
    from onnx2torch.onnx_graph import OnnxGraph

    counters: dict[str, int] = {}
    result: dict[str, str] = {}
    for node in model.graph.node:
        name = OnnxGraph.generate_node_name(node)
        count = counters.get(name, 0)
        counters[name] = count + 1
        result[f"{name}_{count}" if count else name] = node.op_type
    return result


def load_onnx(path: str | Path) -> onnx.ModelProto:
    try:
        return onnx.load(str(path))
    except Exception as exc:  # protobuf's DecodeError, OSError, ...
        raise ConversionError(f"{path} cannot be read as an ONNX model: {exc}") from exc


def convert_onnx(
    model: onnx.ModelProto,
    example_inputs: Sequence[Any],
    device: Any,
    name: str = "model",
    fold_shapes: bool = True,
) -> Converted:
    """Convert `model` with onnx2torch, move it to `device` and specialise it at `example_inputs` (tensors on
    `device`, in the graph's input order). Raises ConversionError when any of that fails."""
    onnx2torch = import_onnx2torch()
    from app.core.torch_backend import graph_passes

    missing = missing_converters(model)
    if missing:
        raise ConversionError(f"{name}: onnx2torch has no converter for {', '.join(missing)}")
    inputs = [i.name for i in model.graph.input if i.name not in {t.name for t in model.graph.initializer}]
    outputs = [o.name for o in model.graph.output]
    try:
        gm = onnx2torch.convert(model)
    except Exception as exc:  # KeyError for run-time conv weights, NotImplementedError for attributes, ...
        raise ConversionError(f"{name}: onnx2torch cannot convert it ({type(exc).__name__}: {exc})") from exc
    op_types = _module_op_types(model)
    gm.eval().requires_grad_(False)
    gm.to(device)
    try:
        counts = graph_passes.specialise(gm, example_inputs, fold_shapes=fold_shapes)
        torch = import_torch()
        with torch.inference_mode():
            result = gm(*example_inputs)
    except Exception as exc:
        raise ConversionError(f"{name}: the converted network does not run ({type(exc).__name__}: {exc})") from exc
    got = len(result) if isinstance(result, list | tuple) else 1
    if got != len(outputs):
        raise ConversionError(f"{name}: the converted network gives {got} outputs, the file has {len(outputs)}")
    converted = Converted(gm, op_types, inputs, outputs, counts, outputs_as_list(result))
    converted.host_read = graph_passes.host_reads(gm, example_inputs)
    log.debug("%s converted: %s; host reads: %s", name, counts, converted.host_read or "none")
    return converted


def outputs_as_list(result: Any) -> list[Any]:
    return list(result) if isinstance(result, list | tuple) else [result]
