"""Static versions of onnx2torch modules whose tensor arguments turned out to be constants.

Each onnx2torch module here reads a small tensor argument on the host at every call (pads, sizes, slice
bounds, a reshape target, axes). Once `graph_passes` has proved the argument constant, the module is replaced by
one holding plain Python numbers: same result, no device -> host read, capturable in a CUDA graph. The batch
dimension stays free wherever the ONNX semantics allow (a Resize to constant `sizes` keeps the input's batch),
which is what lets a graph written for batch 1 run N faces.

`static_replacement` picks by class name so that a newer onnx2torch with other classes simply gets no
replacement (and `graph_passes.host_reads` then reports what still reads the host).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

ConstOf = Callable[[Any], tuple[bool, Any]]

_RESIZE_MODES = {
    ("nearest", 1): "nearest", ("nearest", 2): "nearest", ("nearest", 3): "nearest",
    ("linear", 1): "linear", ("linear", 2): "bilinear", ("linear", 3): "trilinear", ("cubic", 2): "bicubic",
}


def _ints(value: Any) -> list[int] | None:
    if isinstance(value, Tensor):
        return [int(v) for v in value.detach().cpu().reshape(-1).tolist()]
    if isinstance(value, list | tuple) and all(isinstance(v, int) for v in value):
        return list(value)
    return None


def _floats(value: Any) -> list[float] | None:
    if isinstance(value, Tensor):
        return [float(v) for v in value.detach().cpu().reshape(-1).tolist()]
    return None


class StaticPad(nn.Module):
    def __init__(self, pads: list[int], mode: str, value: float) -> None:
        super().__init__()
        self.pads, self.mode, self.value = pads, mode, value

    def forward(self, x: Tensor) -> Tensor:
        if self.mode == "constant":
            return F.pad(x, self.pads, mode="constant", value=self.value)
        return F.pad(x, self.pads, mode=self.mode)


class StaticResize(nn.Module):
    def __init__(self, mode: str, align_corners: bool | None, size: list[int] | None,
                 scale: list[float] | None) -> None:
        super().__init__()
        self.mode, self.align_corners, self.size, self.scale = mode, align_corners, size, scale

    def forward(self, x: Tensor) -> Tensor:
        return F.interpolate(x, size=self.size, scale_factor=self.scale, mode=self.mode,
                             align_corners=self.align_corners)


class StaticSlice(nn.Module):
    def __init__(self, index: tuple[slice, ...]) -> None:
        super().__init__()
        self.index = index

    def forward(self, x: Tensor) -> Tensor:
        return x[self.index]


class StaticReshape(nn.Module):
    def __init__(self, shape: list[int]) -> None:
        super().__init__()
        self.shape = shape

    def forward(self, x: Tensor) -> Tensor:
        # ONNX: 0 copies the input's dimension (allowzero=0); -1 is inferred
        shape = [x.shape[i] if d == 0 else d for i, d in enumerate(self.shape)]
        return torch.reshape(x, shape)


class StaticUnsqueeze(nn.Module):
    def __init__(self, axes: list[int]) -> None:
        super().__init__()
        self.axes = sorted(axes)

    def forward(self, x: Tensor) -> Tensor:
        for axis in self.axes:
            x = torch.unsqueeze(x, axis)
        return x


class StaticSqueeze(nn.Module):
    def __init__(self, axes: list[int]) -> None:
        super().__init__()
        self.axes = sorted(axes, reverse=True)

    def forward(self, x: Tensor) -> Tensor:
        for axis in self.axes:
            x = torch.squeeze(x, axis)
        return x


class StaticGather(nn.Module):
    """Gather with constant indices: `select` for a scalar index, `index_select` with a device buffer for a
    list (a Python list index would be copied to the device at every call)."""

    index: Tensor

    def __init__(self, axis: int, index: int | list[int]) -> None:
        super().__init__()
        self.axis = axis
        self.scalar = index if isinstance(index, int) else None
        self.register_buffer("index", torch.tensor([] if isinstance(index, int) else index, dtype=torch.long))

    def forward(self, x: Tensor) -> Tensor:
        if self.scalar is not None:
            return x.select(self.axis, self.scalar)
        return torch.index_select(x, self.axis, self.index)


def _bind(module: nn.Module, args: Sequence[Any], kwargs: dict[str, Any]) -> dict[str, Any]:
    import inspect

    bound = inspect.signature(module.forward).bind(*args, **kwargs)
    return dict(bound.arguments)


def _slice_index(starts: list[int], ends: list[int], axes: list[int] | None, steps: list[int] | None,
                 rank: int) -> tuple[slice, ...] | None:
    axes = list(range(len(starts))) if axes is None else [a % rank for a in axes]
    steps = [1] * len(starts) if steps is None else steps
    if any(s <= 0 for s in steps):
        return None  # negative steps need a flip; leave those to onnx2torch
    index = [slice(None)] * (max(axes) + 1)
    for start, end, axis, step in zip(starts, ends, axes, steps, strict=True):
        index[axis] = slice(start, end, step)
    return tuple(index)


def static_replacement(module: nn.Module, args: Sequence[Any], kwargs: dict[str, Any], const_of: ConstOf,
                       input_shape: tuple[int, ...] | None) -> nn.Module | None:
    """A static module equivalent to `module(*args, **kwargs)` when all but the first argument are constant."""
    kind = type(module).__name__
    if kind not in _BUILDERS or input_shape is None:
        return None
    bound = _bind(module, args, kwargs)
    values: dict[str, Any] = {}
    for i, (name, arg) in enumerate(bound.items()):
        if i == 0:
            continue
        known, value = const_of(arg)
        if not known:
            return None
        values[name] = value
    return _BUILDERS[kind](module, values, input_shape)


def _pad(module: nn.Module, v: dict[str, Any], shape: tuple[int, ...]) -> nn.Module | None:
    pads = _ints(v.get("pads"))
    if pads is None:
        return None
    half = len(pads) // 2
    begin, end = pads[:half][::-1], pads[half:][::-1]
    torch_pads: list[int] = []
    for b, e in zip(begin, end, strict=True):
        torch_pads += [b, e]
    mode = str(getattr(module, "mode", "constant"))
    if mode != "constant":
        if any(torch_pads[len(shape) * 2 - 4:]):
            return None  # torch pads batch/channel dims only in constant mode
        torch_pads = torch_pads[: len(shape) * 2 - 4]
    value = v.get("constant_value")
    fill = float(value.item()) if isinstance(value, Tensor) else float(value or 0.0)
    return StaticPad(torch_pads, mode, fill)


def _resize(module: nn.Module, v: dict[str, Any], shape: tuple[int, ...]) -> nn.Module | None:
    inner = getattr(module, "_resize", module)  # OnnxResizeV10 wraps an OnnxResize
    roi = v.get("roi")
    if isinstance(roi, Tensor) and roi.numel() and not getattr(inner, "ignore_roi", False):
        return None
    mode = _RESIZE_MODES.get((str(getattr(inner, "onnx_mode", "")), len(shape) - 2))
    align: bool | None = getattr(inner, "align_corners", None)
    if mode is None:
        return None
    sizes, scales = _ints(v.get("sizes")), _floats(v.get("scales"))
    if sizes:
        if sizes[1] != shape[1]:
            return None  # resizing channels: not a spatial resize
        return StaticResize(mode, align, sizes[2:], None)
    if scales:
        if scales[:2] != [1.0, 1.0]:
            return None
        return StaticResize(mode, align, None, scales[2:])
    return None


def _slice(module: nn.Module, v: dict[str, Any], shape: tuple[int, ...]) -> nn.Module | None:
    starts, ends = _ints(v.get("starts")), _ints(v.get("ends"))
    if starts is None or ends is None:
        return None
    index = _slice_index(starts, ends, _ints(v.get("axes")), _ints(v.get("steps")), len(shape))
    return None if index is None else StaticSlice(index)


def _reshape(module: nn.Module, v: dict[str, Any], shape: tuple[int, ...]) -> nn.Module | None:
    target = _ints(v.get("shape"))
    return None if target is None else StaticReshape(target)


def _unsqueeze(module: nn.Module, v: dict[str, Any], shape: tuple[int, ...]) -> nn.Module | None:
    axes = _ints(v.get("axes"))
    if axes is None:
        return None
    rank = len(shape) + len(axes)
    return StaticUnsqueeze([a % rank for a in axes])


def _squeeze(module: nn.Module, v: dict[str, Any], shape: tuple[int, ...]) -> nn.Module | None:
    axes = _ints(v.get("axes"))
    if not axes:
        return None
    return StaticSqueeze([a % len(shape) for a in axes])


def _gather(module: nn.Module, v: dict[str, Any], shape: tuple[int, ...]) -> nn.Module | None:
    indices = v.get("indices")
    if not isinstance(indices, Tensor) or indices.dim() > 1:
        return None
    axis = int(getattr(module, "_axis", 0)) % len(shape)
    flat = [int(i) % shape[axis] for i in np.atleast_1d(indices.detach().cpu().numpy())]
    return StaticGather(axis, flat[0] if indices.dim() == 0 else flat)


_BUILDERS: dict[str, Callable[[nn.Module, dict[str, Any], tuple[int, ...]], nn.Module | None]] = {
    "OnnxPadDynamic": _pad,
    "OnnxResize": _resize,
    "OnnxResizeV10": _resize,
    "OnnxSlice": _slice,
    "OnnxReshape": _reshape,
    "OnnxUnsqueezeDynamicAxes": _unsqueeze,
    "OnnxSqueezeDynamicAxes": _squeeze,
    "OnnxGather": _gather,
}
