"""Static int8 (QDQ) quantisation of an inswapper_128 graph with onnxruntime's tools, and its error against fp32.

What is quantised, and why:
- Convolutions (and MatMuls), with per-channel int8 weights and uint8 activations, MinMax-calibrated: they are
  all but ~0.01% of the 175 GMAC, and onnxruntime fuses DequantizeLinear -> Conv -> QuantizeLinear into its
  int8 kernels. The last convolution stays float: its output becomes the visible pixels after one Tanh, so
  its rounding would show directly, and it costs 0.2% of the work.
- Not the style Gemms (tiny, and they set every AdaIN's scale) nor the AdaIN arithmetic (a variance of
  small numbers in uint8 is noise): they stay float between the int8 convolutions.
- Per-channel QDQ needs the `axis` attribute of QuantizeLinear, which exists from opset 13; the real file is
  opset 11, so the graph is converted first (onnx's version converter; same results).
- The emap (512x512, unused by the graph) is taken out before quantising (the quantiser would drop it) and
  put back as the LAST initializer, where insightface's INSwapper reads it.
- onnxruntime's MinMax calibrator keeps every intermediate tensor of every sample until the end (gigabytes for
  the real model); a strided pass (one sample at a time, ranges merged) keeps one sample's worth.
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import onnx
import onnxruntime as ort
from onnx import numpy_helper, version_converter

from app.core.int8_calibration import Feed
from app.core.int8_report import Progress, Quality
from app.errors import Cancelled, DLCError, ModelError

log = logging.getLogger(__name__)

QUANTIZED_OPS = ("Conv", "MatMul")
PER_CHANNEL_OPSET = 13
MAX_PSNR_DB = 99.0  # identical outputs: a finite number that JSON can hold
INPUTS = ("target", "source")


@dataclass(frozen=True)
class SourceModel:
    """A loaded inswapper graph, its emap taken out (to go back last)."""

    model: onnx.ModelProto
    emap: npt.NDArray[np.float32]
    emap_name: str


def load_source(path: Path) -> SourceModel:
    """Load and check an inswapper_128 file: inputs `target` and `source`, a 512x512 emap last."""
    try:
        model = onnx.load(str(path))
    except Exception as exc:  # protobuf raises DecodeError, onnx raises several: all mean "not this file"
        raise ModelError(f"{path} cannot be read as an ONNX model ({type(exc).__name__}); "
                         "check it with `deep-live-cam models verify`") from exc
    names = {i.name for i in model.graph.input}
    inits = model.graph.initializer
    if not set(INPUTS) <= names or not inits or list(inits[-1].dims) != [512, 512]:
        raise ModelError(f"{path} is not an inswapper_128 model (inputs {sorted(names)}; it needs `target` and "
                         "`source` and a 512x512 emap as its last initializer)")
    emap_t = inits[-1]
    emap = numpy_helper.to_array(emap_t).astype(np.float32)
    del inits[-1]
    return SourceModel(model, emap, emap_t.name)


class _Reader:
    """onnxruntime's CalibrationDataReader protocol, with the `__len__`/`set_range` of strided calibration;
    reports progress and stops (Cancelled) between samples."""

    def __init__(self, feeds: Sequence[Feed], progress: Progress | None) -> None:
        self._feeds = list(feeds)
        self._progress = progress
        self._it: Iterator[Feed] = iter(self._feeds)
        self._done = 0

    def __len__(self) -> int:
        return len(self._feeds)

    def set_range(self, start_index: int, end_index: int) -> None:
        self._it = iter(self._feeds[start_index:end_index])

    def get_next(self) -> Feed | None:
        feed = next(self._it, None)
        if feed is not None:
            if self._progress is not None and not self._progress("calibrating", self._done, len(self._feeds)):
                raise Cancelled("cancelled while calibrating")
            self._done += 1
        return feed


class _Quiet(logging.Filter):
    """onnxruntime's quantiser logs advice through the root logger ("consider pre-processing"); for a user
    these are noise, so they go to our log at debug level instead."""

    def filter(self, record: logging.LogRecord) -> bool:
        if "/onnxruntime/quantization/" in record.pathname.replace("\\", "/"):
            log.debug("onnxruntime: %s", record.getMessage())
            return False
        return True


@contextlib.contextmanager
def _quiet_quantiser() -> Iterator[None]:
    quiet = _Quiet()
    root = logging.getLogger()
    root.addFilter(quiet)
    try:
        yield
    finally:
        root.removeFilter(quiet)


def prepare(source: SourceModel) -> tuple[onnx.ModelProto, list[str]]:
    """The graph as it is quantised (opset >= 13, every node named) and the nodes kept float."""
    model = source.model
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)
    if opset < PER_CHANNEL_OPSET:
        model = version_converter.convert_version(model, PER_CHANNEL_OPSET)
    for i, node in enumerate(model.graph.node):
        if not node.name:
            node.name = f"{node.op_type}_dlc_{i}"
    convs = [n.name for n in model.graph.node if n.op_type == "Conv"]
    return model, convs[-1:]


def quantize(source: SourceModel, dst: Path, feeds: Sequence[Feed], progress: Progress | None = None) -> Path:
    """Write the static int8 QDQ build of `source` to `dst` (the caller's temporary file), emap last."""
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    if not feeds:
        raise ValueError("no calibration samples")
    if progress is not None and not progress("preparing the graph", 0, 1):
        raise Cancelled("cancelled while preparing the graph")
    model, keep_float = prepare(source)
    try:
        with _quiet_quantiser():
            quantize_static(
                model,
                str(dst),
                _Reader(feeds, progress),  # onnxruntime checks for get_next, not for its base class
                quant_format=QuantFormat.QDQ,
                op_types_to_quantize=list(QUANTIZED_OPS),
                per_channel=True,
                activation_type=QuantType.QUInt8,
                weight_type=QuantType.QInt8,
                nodes_to_exclude=keep_float,
                calibrate_method=CalibrationMethod.MinMax,
                calibration_providers=["CPUExecutionProvider"],
                extra_options={"CalibTensorRangeSymmetric": False, "CalibStridedMinMax": 1},
            )
    except (DLCError, OSError):
        raise
    except Exception as exc:  # the quantiser raises ValueError, RuntimeError, ... for a graph it cannot handle
        raise ModelError(
            f"onnxruntime could not quantise this inswapper_128 graph ({type(exc).__name__}: {exc})"
        ) from exc
    if progress is not None and not (progress("calibrating", len(feeds), len(feeds))
                                     and progress("writing the int8 model", 0, 1)):
        raise Cancelled("cancelled before writing the int8 model")
    quantized = onnx.load(str(dst))
    kept = [t for t in quantized.graph.initializer if t.name != source.emap_name]
    del quantized.graph.initializer[:]
    quantized.graph.initializer.extend(kept)
    quantized.graph.initializer.append(numpy_helper.from_array(source.emap, source.emap_name))
    onnx.save(quantized, str(dst))
    return dst


def session(path: Path) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.log_severity_level = 3  # the unused emap initializer is by design
    return ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])


def to_pixels(output: npt.NDArray[np.float32]) -> npt.NDArray[np.uint8]:
    """The swapper's output as the 8-bit picture `swap_crop` makes of it."""
    pixels: npt.NDArray[np.uint8] = np.clip(255.0 * output, 0, 255).astype(np.uint8)
    return pixels


def psnr(mse: float) -> float:
    return MAX_PSNR_DB if mse <= 0 else min(MAX_PSNR_DB, 10.0 * math.log10(255.0**2 / mse))


def compare(fp32: Path, int8: Path, feeds: Sequence[Feed], progress: Progress | None = None) -> Quality:
    """PSNR and worst-pixel error of `int8` against `fp32` on `feeds` (faces not calibrated on)."""
    if not feeds:
        raise ValueError("no faces to compare on")
    reference, candidate = session(fp32), session(int8)
    per_face: list[float] = []
    total_se, total_ae, count, worst = 0.0, 0.0, 0, 0
    for i, feed in enumerate(feeds):
        if progress is not None and not progress("checking quality", i, len(feeds)):
            raise Cancelled("cancelled while checking quality")
        a = to_pixels(reference.run(["output"], dict(feed))[0]).astype(np.int32)
        b = to_pixels(candidate.run(["output"], dict(feed))[0]).astype(np.int32)
        diff = a - b
        se = float(np.square(diff, dtype=np.float64).sum())
        per_face.append(psnr(se / diff.size))
        total_se += se
        total_ae += float(np.abs(diff).sum())
        count += diff.size
        worst = max(worst, int(np.abs(diff).max()))
    if progress is not None:
        progress("checking quality", len(feeds), len(feeds))
    return Quality(
        psnr_db=round(psnr(total_se / count), 2),
        worst_face_psnr_db=round(min(per_face), 2),
        worst_pixel_error=worst,
        mean_abs_error=round(total_ae / count, 3),
        faces=len(feeds),
        per_face_psnr_db=tuple(round(p, 2) for p in per_face),
    )
