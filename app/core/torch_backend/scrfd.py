"""det_10g.onnx (SCRFD) on torch: the converted network plus SCRFD's decoding, on the device.

`TorchSCRFD` answers `detect(img, input_size, max_num, metric, det_thresh)` exactly like insightface's
`SCRFD.detect` (same letterbox into the input size, det_scale, (x - 127.5) / 128 on RGB, anchor centres,
distance2bbox / distance2kps, score threshold, stable score order, NMS with insightface's +1 areas, the
max_num choice), so it is a drop-in for the engine's `detect_faces`. `detect_tensor` does the same from a frame
already on the device (H x W x 3 uint8 BGR tensor): the letterbox is resized there (bilinear like cv2's
INTER_LINEAR, rounded to 8 bits as cv2 does). Only the surviving candidates' overlap matrix crosses to the host
for the greedy NMS pass.

The network is converted once per input size (its Shape -> Gather chains fold to constants for that size),
with the fp16 policy (`precision`) checked on a probe frame, and captured as a CUDA graph on CUDA devices.
"""

from __future__ import annotations

import copy
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from app.core import probe
from app.core.scrfd_rules import letterbox_size, max_num_choice
from app.core.torch_backend import ConversionError, graph_passes
from app.core.torch_backend import precision as prec
from app.core.torch_backend.convert import Converted, convert_onnx, load_onnx, outputs_as_list
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

log = logging.getLogger(__name__)

DEFAULT_SIZE = (640, 640)
FP16_BOUND = Bound(mean=0.01, p99=0.1, unit="(scores, stride units)")
DEVICE_NMS_MAX = 2048  # above this many candidates the overlap matrix would be large: NMS on the host instead
MEAN, STD = 127.5, 128.0


@dataclass
class _Net:
    runner: FixedShapeRunner
    precision: str
    captured: bool
    module: Any  # the converted network (its weights; `runner` may wrap it)


def _layout(count: int) -> tuple[int, tuple[int, ...], int, bool]:
    """(feature maps, strides, anchors per place, keypoints) for SCRFD files with `count` outputs."""
    layouts = {6: (3, (8, 16, 32), 2, False), 9: (3, (8, 16, 32), 2, True),
               10: (5, (8, 16, 32, 64, 128), 1, False), 15: (5, (8, 16, 32, 64, 128), 1, True)}
    if count not in layouts:
        raise ConversionError(f"not an SCRFD detector: {count} outputs (6, 9, 10 or 15 expected)")
    return layouts[count]


class TorchSCRFD:
    taskname = "detection"

    def __init__(self, model: Any, name: str, device: torch.device, precision: str, cuda_graphs: bool,
                 fp16_bound: Bound, channels_last: bool | None = None) -> None:
        self.model, self.name, self.device = model, name, device
        self.channels_last = prefers_channels_last(device) if channels_last is None else channels_last
        self.precision, self.cuda_graphs, self.fp16_bound = precision, cuda_graphs, fp16_bound
        self.fmc, self.strides, self.num_anchors, self.use_kps = _layout(len(model.graph.output))
        inits = {t.name for t in model.graph.initializer}
        inputs = [i for i in model.graph.input if i.name not in inits]
        if len(inputs) != 1:
            raise ConversionError(f"{name}: an SCRFD detector has one input, this file has {len(inputs)}")
        dims = [d.dim_value for d in inputs[0].type.tensor_type.shape.dim]
        self.batched = len(model.graph.output[0].type.tensor_type.shape.dim) == 3
        self.static_input_size = (dims[3], dims[2]) if len(dims) == 4 and dims[2] > 0 and dims[3] > 0 else None
        self.input_size = self.static_input_size or DEFAULT_SIZE
        self.det_thresh, self.nms_thresh = 0.5, 0.4
        self._nets: dict[tuple[int, int], _Net] = {}
        self._centres: dict[tuple[int, int, int], Tensor] = {}

    @classmethod
    def load(cls, path: str | Path, device: str | torch.device = "auto", precision: str = "auto",
             cuda_graphs: bool = True, input_size: tuple[int, int] | None = None,
             fp16_bound: Bound = FP16_BOUND, channels_last: bool | None = None) -> TorchSCRFD:
        """Load and convert at `input_size` (width, height; the file's own fixed size wins, else 640x640).
        ConversionError when the graph cannot run in torch."""
        path = Path(path)
        dev = device if isinstance(device, torch.device) else pick_device(device)
        tune_for_fixed_shapes(dev)
        detector = cls(load_onnx(path), path.name, dev, prec.parse_precision(precision), cuda_graphs, fp16_bound,
                       channels_last)
        if input_size is not None and detector.static_input_size is None:
            detector.input_size = (int(input_size[0]), int(input_size[1]))
        detector.net_for(detector.input_size)
        return detector

    def prepare(self, ctx_id: int = 0, **kwargs: Any) -> None:
        """insightface's prepare(): det_thresh, nms_thresh, input_size."""
        self.det_thresh = float(kwargs.get("det_thresh", self.det_thresh))
        self.nms_thresh = float(kwargs.get("nms_thresh", self.nms_thresh))
        if kwargs.get("input_size") is not None and self.static_input_size is None:
            self.input_size = tuple(int(v) for v in kwargs["input_size"])  # type: ignore[assignment]

    # ----------------------------------------------------------------------------------------- network
    def net_for(self, size: tuple[int, int]) -> _Net:
        if size not in self._nets:
            self._nets[size] = self._build(size)
        return self._nets[size]

    def _build(self, size: tuple[int, int]) -> _Net:
        frame = probe.scene()
        blob, _ = self._letterbox_blob(frame, size)
        example = [torch.from_numpy(blob).to(self.device)]
        converted = convert_onnx(self.model, example, self.device, name=f"{self.name} at {size[0]}x{size[1]}")
        module, dtype_name = converted.module, "fp32"
        if prec.wants_fp16(self.precision, self.device):
            half = self._half(converted, example)
            with torch.inference_mode():
                outs16 = outputs_as_list(half(*example))
            reason = prec.disagreement(converted.example_outputs, outs16, self.fp16_bound)
            if reason is None:
                module, dtype_name = half, "fp16"
            else:
                log.warning("detector %s: fp16 rejected: %s; using fp32", self.name, reason)
        capture = self.cuda_graphs and supports_graph_capture(self.device)
        host_read = graph_passes.host_reads(module, example) if capture else None
        if host_read is not None:
            log.warning("detector %s: no CUDA graphs: %s", self.name, host_read)
            capture = False
        log.info("detector %s on torch %s at %dx%d: %s, %s", self.name, describe(self.device), size[0], size[1],
                 dtype_name, "CUDA graphs" if capture else "no capture")
        net = ChannelsLast(module) if self.channels_last else module
        return _Net(FixedShapeRunner(net, self.device, capture, name=f"detector {size}"), dtype_name, capture,
                    module)

    @staticmethod
    def _half(converted: Converted, example: list[Tensor]) -> Any:
        module = copy.deepcopy(converted.module)
        records = graph_passes.record(module, example, fold_shapes=True)
        prec.to_half(module, records, prec.onnx_roles(converted.op_types))
        graph_passes.specialise(module, example, fold_shapes=True)
        return module

    def forward_blob(self, blob: Tensor) -> list[Tensor]:
        """The network's raw outputs (file order) for a [1,3,H,W] normalised blob on the device."""
        size = (int(blob.shape[3]), int(blob.shape[2]))
        return outputs_as_list(self.net_for(size).runner(blob.to(self.device, torch.float32)))

    # ---------------------------------------------------------------------------------------- detection
    def _size(self, input_size: tuple[int, int] | None) -> tuple[int, int]:
        if self.static_input_size is not None:
            return self.static_input_size
        chosen = input_size if input_size is not None else self.input_size
        return int(chosen[0]), int(chosen[1])

    @staticmethod
    def _letterbox_blob(img: np.ndarray, size: tuple[int, int]) -> tuple[np.ndarray, float]:
        new_width, new_height, det_scale = letterbox_size(img.shape[0], img.shape[1], size)
        canvas = np.zeros((size[1], size[0], 3), dtype=np.uint8)
        canvas[:new_height, :new_width, :] = cv2.resize(img, (new_width, new_height))
        blob = cv2.dnn.blobFromImage(canvas, 1.0 / STD, size, (MEAN, MEAN, MEAN), swapRB=True)
        return np.ascontiguousarray(blob, dtype=np.float32), det_scale

    def _letterbox_tensor(self, frame: Tensor, size: tuple[int, int]) -> tuple[Tensor, float]:
        height, width = int(frame.shape[0]), int(frame.shape[1])
        new_width, new_height, det_scale = letterbox_size(height, width, size)
        rgb = frame.to(self.device).permute(2, 0, 1).flip(0)[None].float()
        if (new_height, new_width) != (height, width):
            rgb = F.interpolate(rgb, size=(new_height, new_width), mode="bilinear", align_corners=False)
            rgb = rgb.round_().clamp_(0, 255)  # cv2.resize of a uint8 image gives uint8
        canvas = torch.zeros((1, 3, size[1], size[0]), device=self.device)  # black, as SCRFD's letterbox
        canvas[:, :, :new_height, :new_width] = rgb
        return (canvas - MEAN) / STD, det_scale

    def detect(self, img: np.ndarray, input_size: tuple[int, int] | None = None, max_num: int = 0,
               metric: str = "default", det_thresh: float | None = None) -> tuple[np.ndarray, np.ndarray | None]:
        """insightface's SCRFD.detect on a BGR uint8 frame: det [K,5] (x1, y1, x2, y2, score), kpss [K,5,2]."""
        size = self._size(input_size)
        blob, det_scale = self._letterbox_blob(img, size)
        outs = self.forward_blob(torch.from_numpy(blob).to(self.device))
        return self._finish(outs, size, det_scale, img.shape[:2], max_num, metric, det_thresh)

    def detect_tensor(self, frame: Tensor, input_size: tuple[int, int] | None = None, max_num: int = 0,
                      metric: str = "default", det_thresh: float | None = None
                      ) -> tuple[np.ndarray, np.ndarray | None]:
        """`detect` for a frame on the device: H x W x 3 uint8 BGR tensor."""
        size = self._size(input_size)
        blob, det_scale = self._letterbox_tensor(frame, size)
        outs = self.forward_blob(blob)
        return self._finish(outs, size, det_scale, (int(frame.shape[0]), int(frame.shape[1])), max_num, metric,
                            det_thresh)

    def _finish(self, outs: list[Tensor], size: tuple[int, int], det_scale: float, shape: tuple[int, int],
                max_num: int, metric: str, det_thresh: float | None) -> tuple[np.ndarray, np.ndarray | None]:
        from app.core.torch_backend.scrfd_decode import decode, nms

        threshold = self.det_thresh if det_thresh is None else float(det_thresh)
        dets, kpss = decode(self, outs, size, det_scale, threshold)
        if dets.shape[0] == 0:
            return np.empty((0, 5), np.float32), (np.empty((0, 5, 2), np.float32) if self.use_kps else None)
        keep = nms(dets, self.nms_thresh, DEVICE_NMS_MAX)
        det = dets[keep].cpu().numpy()
        kps = kpss[keep].cpu().numpy() if kpss is not None else None
        return max_num_choice(det, kps, shape, max_num, metric)

    def anchor_centres(self, height: int, width: int, stride: int) -> Tensor:
        key = (height, width, stride)
        if key not in self._centres:
            ys, xs = torch.meshgrid(torch.arange(height), torch.arange(width), indexing="ij")
            centres = (torch.stack([xs, ys], dim=-1).float() * stride).reshape(-1, 2)
            if self.num_anchors > 1:
                centres = centres.repeat_interleave(self.num_anchors, dim=0)
            self._centres[key] = centres.to(self.device)
        return self._centres[key]
