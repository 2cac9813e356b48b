"""SCRFD's decoding, on the device: anchor centres, distances to boxes and points, threshold, score order, NMS.

Each step mirrors insightface's SCRFD.forward/detect/nms in float32 so results agree with it: boxes are
centre -/+ distance * stride, points centre + distance * stride, candidates with score >= threshold in file
order (stride by stride, anchor by anchor), stably sorted by falling score, then greedy NMS on overlaps computed
with insightface's "+1" box areas (a candidate survives when its overlap with every kept one is <= the
threshold, so a NaN overlap suppresses, as there). Only the candidates' overlap matrix (or, past
`device_max` candidates, the candidates themselves) crosses to the host, for the greedy pass.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import Tensor

from app.core.scrfd_rules import nms as host_nms

if TYPE_CHECKING:
    from app.core.torch_backend.scrfd import TorchSCRFD


def decode(detector: TorchSCRFD, outs: list[Tensor], size: tuple[int, int], det_scale: float,
           threshold: float) -> tuple[Tensor, Tensor | None]:
    """Candidates over the threshold, best first: dets [K,5] (box in frame pixels, score), kpss [K,5,2]."""
    fmc = detector.fmc
    scores, boxes, points = [], [], []
    for idx, stride in enumerate(detector.strides):
        score = outs[idx][0] if detector.batched else outs[idx]
        dist = (outs[idx + fmc][0] if detector.batched else outs[idx + fmc]).float() * stride
        centres = detector.anchor_centres(size[1] // stride, size[0] // stride, stride)
        scores.append(score.float().reshape(-1))
        boxes.append(torch.cat([centres - dist[:, :2], centres + dist[:, 2:4]], dim=1))
        if detector.use_kps:
            kps = (outs[idx + 2 * fmc][0] if detector.batched else outs[idx + 2 * fmc]).float() * stride
            points.append(centres[:, None, :] + kps.reshape(-1, 5, 2))
    score_all = torch.cat(scores)
    keep = torch.nonzero(score_all >= threshold).squeeze(1)
    order = torch.sort(score_all[keep], descending=True, stable=True).indices
    chosen = keep[order]
    dets = torch.cat([torch.cat(boxes)[chosen] / det_scale, score_all[chosen, None]], dim=1)
    kpss = torch.cat(points)[chosen] / det_scale if detector.use_kps else None
    return dets, kpss


def _greedy(suppressed_by: np.ndarray) -> list[int]:
    removed = np.zeros(suppressed_by.shape[0], dtype=bool)
    keep = []
    for i in range(suppressed_by.shape[0]):
        if removed[i]:
            continue
        keep.append(i)
        removed |= suppressed_by[i]
    return keep


def nms(dets: Tensor, thresh: float, device_max: int) -> list[int]:
    """Indices (into `dets`, sorted best first) that survive NMS."""
    if dets.shape[0] > device_max:
        return host_nms(dets.cpu().numpy(), thresh)
    x1, y1, x2, y2 = dets[:, 0], dets[:, 1], dets[:, 2], dets[:, 3]
    areas = (x2 - x1 + 1) * (y2 - y1 + 1)
    w = torch.clamp(torch.minimum(x2[:, None], x2[None, :]) - torch.maximum(x1[:, None], x1[None, :]) + 1, min=0.0)
    h = torch.clamp(torch.minimum(y2[:, None], y2[None, :]) - torch.maximum(y1[:, None], y1[None, :]) + 1, min=0.0)
    inter = w * h
    overlap = inter / (areas[:, None] + areas[None, :] - inter)
    return _greedy((~(overlap <= thresh)).cpu().numpy())
