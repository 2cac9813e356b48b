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


def _host_nms(dets: np.ndarray, thresh: float) -> list[int]:
    """insightface's SCRFD.nms, verbatim in effect (for candidate counts too big for one overlap matrix)."""
    x1, y1, x2, y2, scores = dets[:, 0], dets[:, 1], dets[:, 2], dets[:, 3], dets[:, 4]
    areas = (x2 - x1 + 1) * (y2 - y1 + 1)
    order = np.argsort(-scores, kind="stable")
    keep = []
    while order.size > 0:
        i = order[0]
        keep.append(int(i))
        w = np.maximum(0.0, np.minimum(x2[i], x2[order[1:]]) - np.maximum(x1[i], x1[order[1:]]) + 1)
        h = np.maximum(0.0, np.minimum(y2[i], y2[order[1:]]) - np.maximum(y1[i], y1[order[1:]]) + 1)
        inter = w * h
        ovr = inter / (areas[i] + areas[order[1:]] - inter)
        order = order[np.where(ovr <= thresh)[0] + 1]
    return keep


def nms(dets: Tensor, thresh: float, device_max: int) -> list[int]:
    """Indices (into `dets`, sorted best first) that survive NMS."""
    if dets.shape[0] > device_max:
        return _host_nms(dets.cpu().numpy(), thresh)
    x1, y1, x2, y2 = dets[:, 0], dets[:, 1], dets[:, 2], dets[:, 3]
    areas = (x2 - x1 + 1) * (y2 - y1 + 1)
    w = torch.clamp(torch.minimum(x2[:, None], x2[None, :]) - torch.maximum(x1[:, None], x1[None, :]) + 1, min=0.0)
    h = torch.clamp(torch.minimum(y2[:, None], y2[None, :]) - torch.maximum(y1[:, None], y1[None, :]) + 1, min=0.0)
    inter = w * h
    overlap = inter / (areas[:, None] + areas[None, :] - inter)
    return _greedy((~(overlap <= thresh)).cpu().numpy())


def max_num_choice(det: np.ndarray, kpss: np.ndarray | None, shape: tuple[int, int], max_num: int,
                   metric: str) -> tuple[np.ndarray, np.ndarray | None]:
    """insightface's max_num selection: the biggest (metric 'max') or biggest-and-most-central faces."""
    det = det.astype(np.float32, copy=False)
    if max_num <= 0 or det.shape[0] <= max_num:
        return det, kpss
    area = (det[:, 2] - det[:, 0]) * (det[:, 3] - det[:, 1])
    centre_y, centre_x = shape[0] // 2, shape[1] // 2
    offsets = np.vstack([(det[:, 0] + det[:, 2]) / 2 - centre_x, (det[:, 1] + det[:, 3]) / 2 - centre_y])
    offset_dist_squared = np.sum(np.power(offsets, 2.0), 0)
    values = area if metric == "max" else area - offset_dist_squared * 2.0
    chosen = np.argsort(values)[::-1][:max_num]
    return det[chosen], (kpss[chosen] if kpss is not None else None)
