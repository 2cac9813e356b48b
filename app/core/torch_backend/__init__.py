"""The torch backend: the real model files run in PyTorch on CUDA, ROCm, Apple MPS or the CPU, with the
frames kept on the device.

- inswapper_128.onnx and det_10g.onnx are converted to torch generically (onnx2torch plus our graph passes:
  constants folded, shape arithmetic fixed for the input size, so nothing reads device memory from the host
  inside the network), so any file with the real files' conventions loads. A graph that does not convert raises
  `ConversionError`: the engine runs that model on onnxruntime instead and says so once in the log.
- The inswapper also gets a hand-fused module built from the graph's weights by its structure; it is used only
  when it matches the generic conversion on a probe face at load.
- GFPGANv1.4.pth runs natively (the project's GFPGANv1Clean).
- fp16 where safe (convolutions and linears in fp16; normalisation statistics, divisions, reductions and the
  output heads in fp32), checked against fp32 on a probe at load (NaN/Inf or a difference beyond the bound ->
  fp32, with the reason in the log).
- On CUDA, fixed shapes are captured as CUDA graphs; everywhere else the same code runs without capture.

Importing this package does not import torch: `device.torch_importable()` / `device.gpu_available()` answer
without it, and the errors below can be caught by code that never loads the backend.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.errors import ModelError

if TYPE_CHECKING:
    from app.core.torch_backend.gfpgan import TorchRestorer
    from app.core.torch_backend.inswapper import TorchInswapper
    from app.core.torch_backend.scrfd import TorchSCRFD

log = logging.getLogger(__name__)


class TorchBackendError(ModelError):
    """The torch backend cannot run a model; the message says which and why."""


class TorchUnavailable(TorchBackendError):
    """PyTorch (or onnx2torch, for ONNX files) cannot be imported here."""


class ConversionError(TorchBackendError):
    """An ONNX graph cannot be run by torch (an op without a converter, an unsupported attribute, a converted
    network that does not agree with the file). The engine falls back to onnxruntime for that model."""


def _require(onnx: bool) -> None:
    from app.core.torch_backend.device import import_torch

    import_torch()
    if onnx:
        from app.core.torch_backend.convert import import_onnx2torch

        import_onnx2torch()


def _load(kind: str, path: str | Path, onnx: bool, options: dict[str, Any]) -> Any:
    """Load one model on torch; a TorchBackendError is logged once (the fallback's log line) and re-raised."""
    try:
        _require(onnx)
        if kind == "swapper":
            from app.core.torch_backend.inswapper import TorchInswapper

            return TorchInswapper.load(path, **options)
        if kind == "detector":
            from app.core.torch_backend.scrfd import TorchSCRFD

            return TorchSCRFD.load(path, **options)
        from app.core.torch_backend.gfpgan import TorchRestorer

        return TorchRestorer.load(path, **options)
    except TorchBackendError as exc:
        log.warning("torch backend: the %s runs on onnxruntime instead: %s", kind, exc)
        raise


def load_swapper(path: str | Path, **options: Any) -> TorchInswapper:
    """`TorchInswapper.load(path, **options)`. TorchUnavailable without torch/onnx2torch, ConversionError when
    the graph cannot run in torch; either is logged here (one WARNING line saying onnxruntime takes over), so
    the caller only catches TorchBackendError and loads the onnxruntime model."""
    swapper: TorchInswapper = _load("swapper", path, True, options)
    return swapper


def load_detector(path: str | Path, **options: Any) -> TorchSCRFD:
    """`TorchSCRFD.load(path, **options)`; errors and log as `load_swapper`."""
    detector: TorchSCRFD = _load("detector", path, True, options)
    return detector


def load_restorer(pth: str | Path, **options: Any) -> TorchRestorer:
    """`TorchRestorer.load(pth, **options)` for GFPGANv1.4.pth. TorchUnavailable without torch (logged as
    `load_swapper`); ModelError (not a fallback: the file is wrong) for a missing or foreign checkpoint."""
    restorer: TorchRestorer = _load("restorer", pth, False, options)
    return restorer


__all__ = ["ConversionError", "TorchBackendError", "TorchUnavailable", "load_detector", "load_restorer",
           "load_swapper"]
