"""GFPGAN v1.4 on torch, natively from GFPGANv1.4.pth (the project's GFPGANv1Clean), on the device.

The checkpoint is read and validated exactly as the ONNX conversion reads it (app.models.gfpgan_convert:
`load_checkpoint`, `extract_state_dict`, `load_weights`: the same ModelErrors for a missing, corrupt or foreign
file). The network is traced with torch.fx and specialised like a converted graph: everything computed from
the weights alone (StyleGAN2's demodulation sums, the scaled noise) is folded into constants once. The fp16
policy of `precision` applies (demodulation and every reduction in fp32, the to-RGB convs in fp32), checked
against fp32 on a probe face; on CUDA the 512 x 512 restore is captured as a CUDA graph per batch size.

Contract as the ONNX export: [N,3,S,S] RGB in [-1,1] in, the restored faces clamped to [-1,1] out (S = 512).
"""

from __future__ import annotations

import copy
import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np
import torch
from torch import Tensor, fx

from app.core import probe
from app.core.torch_backend import graph_passes
from app.core.torch_backend import precision as prec
from app.core.torch_backend.device import (
    ChannelsLast,
    describe,
    pick_device,
    prefers_channels_last,
    supports_graph_capture,
    tune_for_fixed_shapes,
)
from app.core.torch_backend.precision import Bound
from app.core.torch_backend.runner import FixedShapeRunner
from app.core.types import Frame
from app.errors import ModelError
from app.models.gfpgan_convert import V14, ArchConfig, extract_state_dict, load_checkpoint, load_weights

if TYPE_CHECKING:
    from app.models.gfpgan_arch import GFPGANv1Clean

log = logging.getLogger(__name__)

FP16_BOUND = Bound(mean=1.0, p99=6.0, scale=127.5, unit="levels")  # outputs span [-1,1]: 127.5 per unit


@dataclass
class RestorerInfo:
    device: str
    precision: str
    cuda_graphs: bool
    load_seconds: float = 0.0
    notes: list[str] = field(default_factory=list)


def _traced(net: GFPGANv1Clean) -> fx.GraphModule:
    from app.models.gfpgan_arch import OnnxWrapper

    return fx.symbolic_trace(OnnxWrapper(net).eval())


class TorchRestorer:
    def __init__(self, net: Any, size: int, device: torch.device, info: RestorerInfo) -> None:
        self.size, self.device, self.info = size, device, info
        self._runner = FixedShapeRunner(net, device, capture=info.cuda_graphs, name="gfpgan")

    @classmethod
    def load(cls, pth: str | Path, device: str | torch.device = "auto", precision: str = "auto",
             cuda_graphs: bool = True, config: ArchConfig = V14, fp16_bound: Bound = FP16_BOUND,
             channels_last: bool | None = None) -> TorchRestorer:
        """Read GFPGANv1.4.pth (ModelError when it is missing or not that checkpoint) and prepare it."""
        from app.models.gfpgan_arch import GFPGANv1Clean

        started = time.perf_counter()
        pth = Path(pth)
        if not pth.is_file():
            raise ModelError(f"{pth} does not exist (GFPGAN v1.4 checkpoint needed for face restoration)")
        dev = device if isinstance(device, torch.device) else pick_device(device)
        tune_for_fixed_shapes(dev)
        state = extract_state_dict(load_checkpoint(torch, pth), pth)
        net = GFPGANv1Clean(**asdict(config))
        load_weights(net, state, pth)
        del state
        net.eval().requires_grad_(False)
        module = _traced(net.to(dev))
        size = config.out_size
        face = torch.from_numpy(probe.rgb_blob(probe.face_crop(size), 1.0 / 127.5, -1.0)).to(dev)
        graph_passes.specialise(module, [face], fold_shapes=False)
        with torch.inference_mode():
            reference = module(face)
        notes: list[str] = []
        dtype_name = "fp32"
        if prec.wants_fp16(precision, dev):
            half = _traced(copy.deepcopy(net))  # traces share leaf modules: convert a copy, keep fp32 intact
            records = graph_passes.record(half, [face], fold_shapes=False)
            prec.to_half(half, records, prec.torch_roles)
            graph_passes.specialise(half, [face], fold_shapes=False)
            with torch.inference_mode():
                out16 = half(face)
            reason = prec.disagreement([reference], [out16], fp16_bound)
            if reason is None:
                module, dtype_name = half, "fp16"
            else:
                notes.append(f"fp16 rejected: {reason}; using fp32")
        del net
        capture = cuda_graphs and supports_graph_capture(dev)
        host_read = graph_passes.host_reads(module, [face]) if capture else None
        if host_read is not None:
            notes.append(f"no CUDA graphs: {host_read}")
            capture = False
        for note in notes:
            log.warning("GFPGAN (%s): %s", pth.name, note)
        info = RestorerInfo(describe(dev), dtype_name, capture, time.perf_counter() - started, notes)
        log.info("GFPGAN on torch %s: %s, %s (%.1f s)", info.device, dtype_name,
                 "CUDA graphs" if capture else "no capture", info.load_seconds)
        use_nhwc = prefers_channels_last(dev) if channels_last is None else channels_last
        return cls(ChannelsLast(module) if use_nhwc else module, size, dev, info)

    def restore(self, faces: Tensor) -> Tensor:
        """faces [N,3,S,S] RGB in [-1,1] on the device -> restored, same shape, float32 clamped to [-1,1]."""
        if faces.dim() != 4 or tuple(faces.shape[1:]) != (3, self.size, self.size):
            raise ValueError(f"faces must be N x 3 x {self.size} x {self.size}, got {tuple(faces.shape)}")
        out: Tensor = self._runner(faces.to(self.device, torch.float32))
        return out

    def restore_crop(self, crop: Frame) -> Frame:
        """An aligned S x S BGR uint8 face -> the restored one (app.core.restore.run_gfpgan's contract)."""
        rgb = cv2.cvtColor(crop, cv2.COLOR_BGR2RGB).astype(np.float32)
        out = self.restore_blob((rgb / 127.5 - 1.0).transpose(2, 0, 1)[None])[0]
        rgb_out = np.clip((out.transpose(1, 2, 0) + 1.0) * 127.5 + 0.5, 0, 255).astype(np.uint8)
        return np.ascontiguousarray(cv2.cvtColor(rgb_out, cv2.COLOR_RGB2BGR))

    def restore_blob(self, blob: np.ndarray) -> np.ndarray:
        """The ONNX restorer's contract in numpy: [N,3,S,S] float32 in [-1,1] -> the same."""
        out = self.restore(torch.from_numpy(np.ascontiguousarray(blob, np.float32)))
        return np.asarray(out.cpu().numpy(), np.float32)
