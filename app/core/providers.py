"""Which onnxruntime execution providers run the models."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from app.core.ort_runtime import available_providers, tensorrt_usable
from app.errors import OptionError

log = logging.getLogger(__name__)

# Best first. CPU is always the last resort.
PREFERENCE = (
    "TensorrtExecutionProvider",
    "CUDAExecutionProvider",
    "CoreMLExecutionProvider",
    "DmlExecutionProvider",
    "CPUExecutionProvider",
)
ALIASES = {
    "tensorrt": "TensorrtExecutionProvider",
    "trt": "TensorrtExecutionProvider",
    "cuda": "CUDAExecutionProvider",
    "coreml": "CoreMLExecutionProvider",
    "directml": "DmlExecutionProvider",
    "dml": "DmlExecutionProvider",
    "cpu": "CPUExecutionProvider",
}


def parse_provider_list(text: str | None) -> list[str] | None:
    """'cuda,cpu' -> ['CUDAExecutionProvider', 'CPUExecutionProvider']; None/'' -> None (automatic)."""
    if not text:
        return None
    names = []
    for raw in text.split(","):
        name = raw.strip()
        if not name:
            continue
        full = ALIASES.get(name.lower(), name)
        if full not in PREFERENCE and not full.endswith("ExecutionProvider"):
            raise OptionError(f"unknown execution provider {name!r}; choose from {', '.join(sorted(ALIASES))}")
        names.append(full)
    return names or None


def conflicting_onnxruntime_builds() -> list[str]:
    """Names of onnxruntime distributions installed side by side. They share one `onnxruntime` package
    folder, so with two installed the GPU providers may silently be missing."""
    from importlib import metadata

    found = []
    for name in ("onnxruntime", "onnxruntime-gpu", "onnxruntime-directml", "onnxruntime-silicon"):
        try:
            metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
        found.append(name)
    return found if len(found) > 1 else []


def choose_providers(requested: Sequence[str] | None = None) -> list[str]:
    """The providers to ask onnxruntime for: the requested ones that exist here (in the given order), else
    every preferred one that exists (TensorRT only with its libraries installed); CPU always last so an
    unsupported operator still runs. OnnxRuntimeMissing
    (a ModelError) when onnxruntime is not installed."""
    available = available_providers()
    clash = conflicting_onnxruntime_builds()
    if clash:
        keep = "onnxruntime-gpu[cuda,cudnn]" if "onnxruntime-gpu" in clash else clash[-1]
        log.warning(
            "both %s are installed (another package, e.g. insightface, may require the CPU build); keep one: "
            'pip uninstall -y %s && pip install "%s"', " and ".join(clash), " ".join(clash), keep,
        )
    if requested:
        chosen = [p for p in requested if p in available]
        missing = [p for p in requested if p not in available]
        if missing:
            log.warning("not available in this onnxruntime build: %s (available: %s)", ", ".join(missing),
                        ", ".join(available))
    else:
        chosen = [p for p in PREFERENCE if p in available]
        if "TensorrtExecutionProvider" in chosen and not tensorrt_usable():
            chosen.remove("TensorrtExecutionProvider")
            log.info("TensorRT's libraries are not installed (pip install tensorrt): CUDA runs the models")
    if "CPUExecutionProvider" not in chosen:
        chosen.append("CPUExecutionProvider")
    return chosen
