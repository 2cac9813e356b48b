"""inswapper_128.onnx on torch: the generic conversion, the fused module when it agrees, fp16 when it is safe.

`TorchInswapper.load(path, device, precision)` converts the file (`convert.convert_onnx`; ConversionError when
it cannot), then on a probe face:
1. builds the hand-fused module from the graph's structure and uses it when it matches the generic
   conversion within `fused_bound` levels (else the generic one, with a log line saying by how much);
2. with fp16 wanted (`precision.wants_fp16`), builds the fp16 variant of the chosen module and keeps it only if
   `precision.disagreement` finds it within `fp16_bound` of fp32 (else fp32, and the log says why);
3. checks that the chosen module runs a batch of faces exactly as one by one (the fused one always does; a
   graph with its batch pinned to 1 makes the generic one loop over the faces on the device);
4. on CUDA, captures it as CUDA graphs per batch size (`runner.FixedShapeRunner`).

`swap(crops, latents)` takes N aligned crops, N x 3 x 128 x 128 RGB in [0,1] on the device, and latents
[N,512] or [1,512] (`latent(embedding)` computes one exactly as app.core.swap.source_latent), and returns the
swapped crops, same shape and range. `swap_crop` is the numpy convenience (BGR uint8 crop in and out, as
app.core.swap.swap_crop).
"""

from __future__ import annotations

import copy
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from onnx import numpy_helper
from torch import Tensor

from app.core import probe
from app.core.swap import source_latent
from app.core.torch_backend import ConversionError, graph_passes
from app.core.torch_backend import precision as prec
from app.core.torch_backend.convert import convert_onnx, load_onnx
from app.core.torch_backend.device import (
    describe,
    pick_device,
    supports_graph_capture,
    tune_for_fixed_shapes,
)
from app.core.torch_backend.inswapper_fused import FusedInswapper
from app.core.torch_backend.inswapper_plan import FusionError, plan_from_onnx
from app.core.torch_backend.precision import Bound
from app.core.torch_backend.runner import FixedShapeRunner
from app.core.types import Embedding, Frame

log = logging.getLogger(__name__)

SIZE = 128
FP16_BOUND = Bound(mean=1.0, p99=6.0, scale=255.0, unit="levels")  # fp16 vs fp32 on the probe face
FUSED_BOUND_LEVELS = 0.5  # fused vs generic, fp32, largest difference
BATCH_BOUND_LEVELS = 0.5  # a batch vs one face at a time


@dataclass
class SwapperInfo:
    """What load chose, and why (each reason is also logged)."""

    device: str
    implementation: str  # fused | generic
    precision: str  # fp16 | fp32
    batched: bool
    cuda_graphs: bool
    load_seconds: float = 0.0
    notes: list[str] = field(default_factory=list)


def _io_names(model: Any, path: Path) -> tuple[str, str, str, np.ndarray]:
    inits = {t.name for t in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in inits]
    dims = {i.name: [d.dim_value for d in i.type.tensor_type.shape.dim] for i in inputs}
    target = next((n for n, d in dims.items() if len(d) == 4), None)
    source = next((n for n, d in dims.items() if len(d) == 2), None)
    emap = numpy_helper.to_array(model.graph.initializer[-1]) if model.graph.initializer else np.zeros(0)
    if target is None or source is None or len(model.graph.output) != 1 or emap.shape != (512, 512):
        raise ConversionError(f"{path} is not an inswapper_128 file (inputs target [1,3,128,128] and source [1,512], "
                              f"one output, the 512x512 emap as the last initializer)")
    if dims[target][1:] != [3, SIZE, SIZE]:
        raise ConversionError(f"{path}: input {target!r} is {dims[target]}, not [1,3,{SIZE},{SIZE}]")
    return target, source, model.graph.output[0].name, emap.astype(np.float32)


class _Generic:
    """A converted graph called as (target, source) whatever order the file lists its inputs in."""

    def __init__(self, module: Any, target_first: bool) -> None:
        self.module, self.target_first = module, target_first

    def __call__(self, target: Tensor, source: Tensor) -> Tensor:
        out: Tensor = self.module(target, source) if self.target_first else self.module(source, target)
        return out


def _levels(a: Tensor, b: Tensor) -> float:
    return float((a.float() - b.float()).abs().max()) * 255.0


class TorchInswapper:
    input_size = (SIZE, SIZE)

    def __init__(self, net: Any, emap: np.ndarray, device: torch.device, info: SwapperInfo) -> None:
        self.emap = emap
        self.device = device
        self.info = info
        self._runner = FixedShapeRunner(net, device, capture=info.cuda_graphs, name="inswapper")

    # -------------------------------------------------------------------------------------------- load
    @classmethod
    def load(
        cls,
        path: str | Path,
        device: str | torch.device = "auto",
        precision: str = "auto",
        fused: bool = True,
        cuda_graphs: bool = True,
        channels_last: bool | None = None,
        fp16_bound: Bound = FP16_BOUND,
        fused_bound_levels: float = FUSED_BOUND_LEVELS,
    ) -> TorchInswapper:
        started = time.perf_counter()
        path = Path(path)
        dev = device if isinstance(device, torch.device) else pick_device(device)
        tune_for_fixed_shapes(dev)
        model = load_onnx(path)
        target_name, source_name, output_name, emap = _io_names(model, path)
        crop = torch.from_numpy(probe.rgb_blob(probe.face_crop(SIZE))).to(dev)
        lat = torch.from_numpy(probe.latent(emap)).to(dev)
        order = [i.name for i in model.graph.input if i.name in (target_name, source_name)]
        example = [crop if n == target_name else lat for n in order]  # in the graph's input order
        converted = convert_onnx(model, example, dev, name=path.name)
        notes: list[str] = []
        reference = converted.example_outputs[0]
        net: Any = _Generic(converted.module, converted.input_names[0] == target_name)
        implementation, plan = "generic", None
        if fused:
            channels_last = dev.type == "cuda" if channels_last is None else channels_last
            try:
                plan = plan_from_onnx(model, target_name, source_name, output_name)
                candidate = FusedInswapper(plan, channels_last=channels_last).to(dev)
                with torch.inference_mode():
                    out = candidate(crop, lat)
                diff = _levels(out, reference)
                if diff <= fused_bound_levels:
                    net, implementation, reference = candidate, "fused", out
                else:
                    notes.append(f"the fused module differs from the generic conversion by {diff:.2f} levels "
                                 f"(bound {fused_bound_levels}); using the generic one")
            except FusionError as exc:
                notes.append(f"no fused module ({exc}); using the generic conversion")
        dtype_name = "fp32"
        if prec.wants_fp16(precision, dev):
            half = cls._half(implementation, plan, converted, example, dev, channels_last, target_name)
            with torch.inference_mode():
                out16 = half(crop, lat)
            reason = prec.disagreement([reference], [out16], fp16_bound)
            if reason is None:
                net, dtype_name, reference = half, "fp16", out16
            else:
                notes.append(f"fp16 rejected: {reason}; using fp32")
        batched = implementation == "fused" or cls._batches(net, crop, lat, reference)
        if not batched:
            notes.append("the graph does not run a batch of faces as one by one; faces go one at a time")
        capture = cuda_graphs and supports_graph_capture(dev)
        host_read = None
        if capture and implementation == "generic":
            host_read = graph_passes.host_reads(net.module, example)
        if host_read is not None:
            notes.append(f"no CUDA graphs: {host_read}")
            capture = False
        info = SwapperInfo(describe(dev), implementation, dtype_name, batched, capture, notes=notes)
        for note in notes:
            log.warning("inswapper (%s): %s", path.name, note)
        info.load_seconds = time.perf_counter() - started
        log.info("inswapper on torch %s: %s, %s, %s, %s (%.1f s)", info.device, implementation, dtype_name,
                 "batched" if batched else "one face at a time", "CUDA graphs" if capture else "no capture",
                 info.load_seconds)
        return cls(net, emap, dev, info)

    @staticmethod
    def _half(implementation: str, plan: Any, converted: Any, example: list[Tensor], dev: torch.device,
              channels_last: bool | None, target_name: str) -> Any:
        if implementation == "fused":
            return FusedInswapper(plan, dtype=torch.float16, channels_last=bool(channels_last)).to(dev)
        module = copy.deepcopy(converted.module)
        records = graph_passes.record(module, example, fold_shapes=True)
        prec.to_half(module, records, prec.onnx_roles(converted.op_types))
        graph_passes.specialise(module, example, fold_shapes=True)
        return _Generic(module, converted.input_names[0] == target_name)

    @staticmethod
    def _batches(net: Any, crop: Tensor, lat: Tensor, alone: Tensor) -> bool:
        """Whether two different faces with two latents in one batch give what they give one at a time
        (`alone`: `net`'s output for `crop`, `lat`)."""
        crops = torch.cat([crop, crop.flip(-1)])
        lats = torch.cat([lat, lat.roll(7, dims=1)])
        try:
            with torch.inference_mode():
                together = net(crops, lats)
                apart = torch.cat([alone, net(crops[1:], lats[1:])])
        except Exception as exc:  # a graph pinned to batch 1 fails in a reshape or a broadcast
            log.debug("batch probe failed: %s", exc)
            return False
        return tuple(together.shape) == tuple(apart.shape) and _levels(together, apart) <= BATCH_BOUND_LEVELS

    # --------------------------------------------------------------------------------------------- use
    def latent(self, embedding: Embedding) -> np.ndarray:
        """(1, 512) float32, exactly app.core.swap.source_latent (INSwapper.get's mapping)."""
        return source_latent(self, embedding)

    def swap(self, crops: Tensor, latents: Tensor) -> Tensor:
        """crops N x 3 x 128 x 128 RGB float in [0,1] on the device; latents [N,512] or [1,512] -> swapped crops,
        N x 3 x 128 x 128 float32 in [0,1]."""
        if crops.dim() != 4 or tuple(crops.shape[1:]) != (3, SIZE, SIZE):
            raise ValueError(f"crops must be N x 3 x {SIZE} x {SIZE}, got {tuple(crops.shape)}")
        crops = crops.to(self.device, torch.float32)
        latents = latents.to(self.device, torch.float32).reshape(-1, self.emap.shape[0])
        if latents.shape[0] not in (1, crops.shape[0]):
            raise ValueError(f"{latents.shape[0]} latents for {crops.shape[0]} crops")
        if self.info.batched or crops.shape[0] == 1:
            out: Tensor = self._runner(crops, latents)
            return out
        pairs = [(crops[i: i + 1], latents[min(i, latents.shape[0] - 1)][None]) for i in range(crops.shape[0])]
        return torch.cat([self._runner(c, lat) for c, lat in pairs])

    def swap_crop(self, crop: Frame, latent: np.ndarray) -> Frame:
        """An aligned BGR uint8 crop -> the swapped BGR uint8 crop (app.core.swap.swap_crop's contract)."""
        blob = torch.from_numpy(probe.rgb_blob(crop)).to(self.device)
        out = self.swap(blob, torch.from_numpy(np.asarray(latent, np.float32)))
        rgb = out[0].permute(1, 2, 0).cpu().numpy()
        bgr = np.clip(255.0 * rgb, 0, 255).astype(np.uint8)[:, :, ::-1]
        return np.ascontiguousarray(bgr)
