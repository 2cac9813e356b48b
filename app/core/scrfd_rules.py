"""SCRFD's host-side rules, as insightface's SCRFD.detect applies them, shared by both backends' detectors
(app/core/ort_scrfd.py on onnxruntime, app/core/torch_backend/scrfd.py on torch): the letterbox's size, greedy
NMS with insightface's "+1" box areas, and the max_num choice.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[np.float32]
NMS_THRESH = 0.4


def letterbox_size(height: int, width: int, size: tuple[int, int]) -> tuple[int, int, float]:
    """An image of `height` x `width` letterboxed into `size` (width, height), keeping its aspect, top-left:
    (new_width, new_height, det_scale), det_scale from the new height as insightface computes it."""
    im_ratio = float(height) / width
    model_ratio = float(size[1]) / size[0]
    if im_ratio > model_ratio:
        new_height = size[1]
        new_width = int(new_height / im_ratio)
    else:
        new_width = size[0]
        new_height = int(new_width * im_ratio)
    return new_width, new_height, float(new_height) / height


def nms(dets: Array, thresh: float) -> list[int]:
    """Greedy NMS over [K,5] (x1, y1, x2, y2, score), with insightface's +1 areas: a candidate survives when
    its overlap with every kept one is <= `thresh` (so a NaN overlap suppresses, as there)."""
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


def max_num_choice(det: Array, kpss: Array | None, shape: tuple[int, ...], max_num: int,
                   metric: str) -> tuple[Array, Array | None]:
    """insightface's max_num choice: the biggest faces (metric 'max'), or the biggest and most central ones."""
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
