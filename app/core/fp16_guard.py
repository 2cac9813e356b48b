"""The fp16 guard for onnxruntime's opt-in `inswapper_128_fp16.onnx`: black or garbled faces from fp16 on some
GPUs are the commonest complaint in peers' trackers, so at load the fp16 swap of a probe face is compared with
fp32 (the same bound as the torch backend's: mean 1 level, 99th percentile 6 levels) and fp32 is used, with the
reason in the log, when it strays or gives NaN/Inf."""

from __future__ import annotations

import logging
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
    types = [np.float16 if "float16" in i.type else np.float32 for i in fp16_model.session.get_inputs()[:2]]
    raw16 = fp16_model.session.run(None, {fp16_model.input_names[0]: probe.rgb_blob(crop).astype(types[0]),
                                          fp16_model.input_names[1]: latent.astype(types[1])})[0]
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
