"""The fp16 guard for onnxruntime's swappers: black or garbled faces from fp16 on some GPUs are the commonest
complaint in peers' trackers, so at load the fp16 swap of a probe face is compared with fp32 (the same bound as
the torch backend's: mean 1 level, 99th percentile 6 levels) and fp32 is used, with the reason in the log, when
it strays or gives NaN/Inf. Two fp16 swappers are guarded: the opt-in `inswapper_128_fp16.onnx` (against the
fp32 file on the same providers), and TensorRT's fp16 engine of the fp32 file (against that file on the CPU,
since on TensorRT both would be fp16 kernels)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import numpy as np

from app.core import probe
from app.core.swap import swap_crop

log = logging.getLogger(__name__)

MEAN_LEVELS, P99_LEVELS = 1.0, 6.0


def disagreement(fp32_model: Any, fp16_model: Any) -> str | None:
    """Why the fp16 model may not be used (None: it may), from one probe face through both."""
    crop = probe.face_crop(int(fp32_model.input_size[0]))
    latent = probe.latent(np.asarray(fp32_model.emap, np.float32))
    raw16 = fp16_model.run(probe.rgb_blob(crop), latent)  # the way it runs at work (a CUDA graph's bound buffers)
    if not np.isfinite(raw16).all():
        return f"its output has {int((~np.isfinite(raw16)).sum())} NaN/Inf values (a black or garbled face)"
    diff = np.abs(swap_crop(fp16_model, crop, latent).astype(np.int16) - swap_crop(fp32_model, crop, latent))
    mean, p99 = float(diff.mean()), float(np.percentile(diff, 99))
    if mean > MEAN_LEVELS or p99 > P99_LEVELS:
        return (f"it differs from fp32 by {mean:.2f} levels on average, {p99:.1f} at the 99th percentile "
                f"(bound {MEAN_LEVELS:g} / {P99_LEVELS:g})")
    return None


def checked_fp16(fp16_model: Any, fp32_model: Any) -> Any:
    """`fp16_model` when the probe shows it safe, else `fp32_model` (and the log says why)."""
    reason = disagreement(fp32_model, fp16_model)
    if reason is not None:
        log.warning("the fp16 swapper is not used, fp32 is: %s", reason)
        return fp32_model
    log.info("the fp16 swapper agrees with fp32 on the probe face: fp16 is used")
    return fp16_model


def tensorrt_fp16(model: Any) -> bool:
    """Whether `model`'s session runs on TensorRT with fp16 kernels allowed."""
    session = getattr(model, "session", None)
    if session is None or session.get_providers()[0] != "TensorrtExecutionProvider":
        return False
    flag = session.get_provider_options().get("TensorrtExecutionProvider", {}).get("trt_fp16_enable", "0")
    return str(flag).lower() in ("1", "true")


def checked_tensorrt_fp16(trt_model: Any, cpu_fp32_model: Any, load_fp32: Callable[[], Any]) -> Any:
    """`trt_model` (TensorRT, fp16 kernels) when the probe shows it agrees with the fp32 file on the CPU, else the
    model `load_fp32` makes (TensorRT without fp16: its own engine, built once and cached)."""
    reason = disagreement(cpu_fp32_model, trt_model)
    if reason is None:
        log.info("TensorRT's fp16 swapper agrees with fp32 on the probe face: fp16 is used")
        return trt_model
    log.warning("TensorRT's fp16 swapper is not used, fp32 is: %s", reason)
    return load_fp32()
