"""Which device torch runs on: CUDA, ROCm (torch's HIP build presents itself as `cuda`), Apple MPS, or the CPU.

Nothing CUDA-only is touched unless the device is a CUDA one. `torch_importable` and `gpu_available` are what
the `auto` backend choice asks; they never raise.
"""

from __future__ import annotations

import importlib.util
import logging
from types import ModuleType
from typing import TYPE_CHECKING, Any

from app.core.torch_backend import TorchUnavailable
from app.errors import OptionError

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)

TORCH_HINT = 'pip install "deep-live-cam[torch]"'
DEVICE_CHOICES = ("auto", "cuda", "rocm", "mps", "cpu")


def _installed(package: str) -> bool:
    """Whether `package` is installed, asked without importing it (torch takes seconds)."""
    try:
        return importlib.util.find_spec(package) is not None
    except (ImportError, ValueError, AttributeError):  # a broken or blocked entry in sys.modules
        return False


def torch_importable() -> bool:
    """Whether a torch package is installed."""
    return _installed("torch")


def onnx2torch_importable() -> bool:
    """Whether onnx2torch, which the torch backend needs for the ONNX files, is installed."""
    return _installed("onnx2torch")


def import_torch() -> ModuleType:
    """torch, or TorchUnavailable saying how to install it."""
    try:
        import torch
    except (ImportError, OSError) as exc:
        raise TorchUnavailable(f"The torch backend needs PyTorch, which cannot be imported ({exc}). "
                               f"Install it ({TORCH_HINT}) or use the onnxruntime backend.") from exc
    return torch


def _mps_available(torch: ModuleType) -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def gpu_available() -> bool:
    """Whether torch is installed and sees a GPU it can use (CUDA, ROCm or MPS): the `auto` backend's test."""
    if not torch_importable():
        return False
    try:
        torch = import_torch()
        return bool(torch.cuda.is_available()) or _mps_available(torch)
    except Exception as exc:  # a broken driver must not stop the app: it means "no usable GPU"
        log.info("torch sees no usable GPU (%s)", exc)
        return False


def pick_device(name: str | None = "auto") -> torch.device:
    """The torch device for `name` (auto | cuda | cuda:N | rocm | mps | cpu). `auto` takes a CUDA/ROCm GPU,
    then MPS, then the CPU. A device that is not there is an OptionError."""
    import_torch()
    import torch

    text = (name or "auto").strip().lower()
    if text == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", torch.cuda.current_device())
        if _mps_available(torch):
            return torch.device("mps")
        return torch.device("cpu")
    kind, _, index = text.partition(":")
    if kind == "rocm":
        kind = "cuda"  # torch's HIP build answers to "cuda"
        if torch.version.hip is None and torch.cuda.is_available():
            raise OptionError("device 'rocm' asked for, but this torch is a CUDA build; use 'cuda'")
    if kind == "cuda":
        if not torch.cuda.is_available():
            raise OptionError(f"device {name!r}: torch sees no CUDA/ROCm GPU here (torch {torch.__version__})")
        number = int(index) if index.isdigit() else torch.cuda.current_device()
        if number >= torch.cuda.device_count():
            raise OptionError(f"device {name!r}: only {torch.cuda.device_count()} GPU(s) are present")
        return torch.device("cuda", number)
    if kind == "mps":
        if not _mps_available(torch):
            raise OptionError(f"device {name!r}: Apple MPS is not available here")
        return torch.device("mps")
    if kind == "cpu":
        return torch.device("cpu")
    raise OptionError(f"unknown torch device {name!r}; choose from {', '.join(DEVICE_CHOICES)} (or cuda:N)")


def describe(device: torch.device) -> str:
    """A short name for logs and statistics, e.g. 'cuda:0 NVIDIA H200 (CUDA 12.8)' or 'cpu'."""
    torch = import_torch()
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        runtime = f"ROCm/HIP {torch.version.hip}" if torch.version.hip else f"CUDA {torch.version.cuda}"
        return f"cuda:{index} {torch.cuda.get_device_name(index)} ({runtime})"
    return device.type


def tune_for_fixed_shapes(device: torch.device) -> None:
    """Let cuDNN pick the fastest convolution algorithms for the shapes it sees (our shapes are fixed, so the
    search runs once per shape, during the warm-up before a CUDA graph is captured). A process-wide torch
    setting; a no-op off CUDA."""
    if device.type == "cuda":
        torch = import_torch()
        torch.backends.cudnn.benchmark = True


def prefers_channels_last(device: torch.device) -> bool:
    """NHWC activations: faster convolutions on CUDA (tensor cores) and in oneDNN on CPUs for the detector and
    GFPGAN (measured 1.3-1.4x here); MPS support for it is uneven, so not there."""
    return device.type in ("cuda", "cpu")


class ChannelsLast:
    """`module(x)` with x (and the module's weights, converted once) in channels-last memory format."""

    def __init__(self, module: Any) -> None:
        torch = import_torch()
        self.module = module.to(memory_format=torch.channels_last)
        self._format = torch.channels_last

    def __call__(self, x: Any) -> Any:
        return self.module(x.contiguous(memory_format=self._format))


def supports_graph_capture(device: torch.device) -> bool:
    """CUDA graphs exist on CUDA and ROCm devices only; MPS and the CPU run the same code uncaptured."""
    return device.type == "cuda"


def fp16_by_default(device: torch.device) -> bool:
    """`--precision auto` tries fp16 on CUDA/ROCm GPUs only (MPS and CPU fp16 are slower or unsafe there)."""
    return device.type == "cuda"


def synchronize(device: torch.device) -> None:
    """Wait for the device's queued work (for timings); a no-op on the CPU."""
    torch = import_torch()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()
