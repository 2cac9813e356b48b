"""onnxruntime itself: importing it with a clear message when it is missing, its GPU libraries, its versions.

onnxruntime is not a base dependency: exactly one build of it comes from an extra (`[cpu]`: onnxruntime,
`[gpu]`: onnxruntime-gpu with CUDA and cuDNN from NVIDIA's pip wheels), because two builds installed side by
side share one package folder and the GPU providers then may silently be missing. So a user may start the app
with none: every use goes through `import_onnxruntime`, which turns that into a ModelError (exit 3, HTTP 503,
the GUI's banner) saying what to install, instead of a traceback.
"""

from __future__ import annotations

import contextlib
import functools
import io
import logging
from collections.abc import Sequence
from importlib import metadata
from types import ModuleType
from typing import cast

from app.errors import ModelError

log = logging.getLogger(__name__)

INSTALL_CPU = 'pip install "deep-live-cam[cpu]"'
INSTALL_GPU = 'pip install "deep-live-cam[gpu]"'
# Providers whose sessions need the CUDA runtime and cuDNN loaded first.
CUDA_PROVIDERS = ("CUDAExecutionProvider", "TensorrtExecutionProvider")
# The pip distributions of TensorRT's libraries, newest naming first (the version keys TensorRT's engine cache).
TENSORRT_DISTRIBUTIONS = ("tensorrt", "tensorrt-cu13", "tensorrt-cu12", "tensorrt-cu13-libs", "tensorrt-cu12-libs",
                          "tensorrt-libs")


class OnnxRuntimeMissing(ModelError):
    """onnxruntime cannot be imported: not installed, or an install broken by two builds sharing its folder."""

    def __init__(self, reason: str) -> None:
        super().__init__(
            f"onnxruntime, which runs the models, {reason}. Install one build of it: `{INSTALL_CPU}` (any "
            f"computer), or `{INSTALL_GPU}` on an NVIDIA GPU (in a source checkout: pip install -e \".[cpu]\" or "
            "\".[gpu]\"). If both onnxruntime and onnxruntime-gpu are installed, remove both first: "
            "pip uninstall -y onnxruntime onnxruntime-gpu",
            fetch=None,  # no model download helps
        )


def import_onnxruntime() -> ModuleType:
    """The onnxruntime module; OnnxRuntimeMissing (a ModelError) when it cannot be imported."""
    try:
        import onnxruntime
    except ImportError as exc:
        if exc.name == "onnxruntime":
            raise OnnxRuntimeMissing("is not installed") from None
        raise OnnxRuntimeMissing(f"is installed but cannot be imported ({exc})") from exc
    if not hasattr(onnxruntime, "InferenceSession"):  # a folder left behind by uninstalling one of two builds
        raise OnnxRuntimeMissing("is damaged (its package folder has no InferenceSession)")
    return cast(ModuleType, onnxruntime)


def onnxruntime_problem() -> str | None:
    """What is wrong with onnxruntime here (None: it imports). For front ends that check at start-up."""
    try:
        import_onnxruntime()
    except OnnxRuntimeMissing as exc:
        return str(exc)
    return None


def available_providers() -> list[str]:
    return list(import_onnxruntime().get_available_providers())


def onnxruntime_version() -> str:
    return str(import_onnxruntime().__version__)


def tensorrt_version() -> str | None:
    """TensorRT's version as pip installed it (None: not from pip, e.g. a system install we cannot see
    without loading it)."""
    for name in TENSORRT_DISTRIBUTIONS:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return None


def tensorrt_usable() -> bool:
    """Whether TensorRT's libraries are here (pip's `tensorrt` wheels, or a system install on the library path).
    onnxruntime-gpu lists its TensorRT provider either way; without the libraries every session would print
    an error and fall back, so the automatic choice leaves TensorRT out then."""
    if tensorrt_version() is not None:
        return True
    import ctypes.util

    return ctypes.util.find_library("nvinfer") is not None or ctypes.util.find_library("nvinfer_10") is not None


def preload_gpu_libraries(providers: Sequence[str]) -> bool:
    """Load CUDA and cuDNN from NVIDIA's pip wheels (or a compatible torch's) before the first CUDA or
    TensorRT session, so no system CUDA toolkit is needed (the NVIDIA driver still is); with TensorRT, its pip
    wheel's libraries too. A no-op unless such a provider is in `providers`, and never fatal: without the
    libraries onnxruntime falls back to the CPU, and the session's providers say so. True when the CUDA/cuDNN
    preload ran (now or earlier in this process)."""
    if not any(p in CUDA_PROVIDERS for p in providers):
        return False
    if "TensorrtExecutionProvider" in providers:
        _preload_tensorrt_once()
    return _preload_once()


@functools.cache
def _preload_tensorrt_once() -> bool:
    """pip's TensorRT keeps its libraries in the `tensorrt_libs` package, whose import loads them into the
    process, where onnxruntime's TensorRT provider then finds them (nothing to add to LD_LIBRARY_PATH)."""
    import importlib

    try:
        importlib.import_module("tensorrt_libs")
    except Exception as exc:  # not from pip (a system TensorRT is found by the loader), or broken
        log.debug("tensorrt_libs not loaded: %s", exc)
        return False
    log.info("TensorRT's libraries loaded from its pip wheel (tensorrt_libs)")
    return True


@functools.cache  # process-wide by nature: shared libraries are loaded into the process once
def _preload_once() -> bool:
    try:
        ort = import_onnxruntime()
    except OnnxRuntimeMissing:
        return False
    if "CUDAExecutionProvider" not in ort.get_available_providers():
        return False  # not a CUDA build of onnxruntime: nothing to load
    preload = getattr(ort, "preload_dlls", None)
    if preload is None:
        log.info("onnxruntime %s has no preload_dlls (it came in 1.21): CUDA and cuDNN must be on the library "
                 "path", ort.__version__)
        return False
    printed = io.StringIO()
    try:
        with contextlib.redirect_stdout(printed):  # it prints its warnings; they belong in the log
            preload()
    except Exception as exc:  # a missing or mismatched library: onnxruntime will say more at session creation
        log.warning("onnxruntime could not preload the CUDA/cuDNN libraries (%s); install them with "
                    "%s", exc, INSTALL_GPU)
        return False
    notes = " ".join(printed.getvalue().split())
    log.info("onnxruntime preloaded the CUDA/cuDNN libraries from the NVIDIA pip wheels%s",
             f" ({notes})" if notes else "")
    return True


def check_providers_taken(session: object, asked: Sequence[str], what: str) -> None:
    """Warn when a session runs on fewer providers than asked: onnxruntime silently drops a GPU provider whose
    libraries are missing, and the user would only notice a slow app."""
    got = list(session.get_providers())  # type: ignore[attr-defined]
    dropped = [p for p in asked if p not in got and p != "CPUExecutionProvider"]
    if dropped:
        hint = f"; {INSTALL_GPU} brings CUDA and cuDNN" if any(p in CUDA_PROVIDERS for p in dropped) else ""
        log.warning("%s: onnxruntime could not start %s, so it runs on %s%s", what, ", ".join(dropped),
                    ", ".join(got), hint)
