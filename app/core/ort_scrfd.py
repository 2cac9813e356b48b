"""det_10g.onnx (SCRFD) on onnxruntime: what insightface's `SCRFD.detect` computes, without insightface.

The same letterbox into the input size (det_scale from the new height), (x - 127.5) / 128 on RGB, anchor
centres per stride (two anchors per position for 6- or 9-output files), distance2bbox / distance2kps, the
score threshold, the stable order by falling score, NMS with insightface's "+1" box areas (a candidate
survives when its overlap with every kept one is <= 0.4) and the max_num choice. One input size per call:
the engine always gives one (insightface 2.1 runs 128 and 640 both when none is given; here the default is
640). tests/core/test_ort_models.py compares it with insightface's own class on the stand-ins and real photos.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from app.core.scrfd_rules import NMS_THRESH, letterbox_size, max_num_choice, nms

Array = npt.NDArray[np.float32]
MEAN, STD = 127.5, 128.0
DEFAULT_SIZE = (640, 640)
# outputs -> (feature map count, strides, anchors per position, keypoints): insightface's SCRFD._init_vars
LAYOUTS = {
    6: (3, (8, 16, 32), 2, False),
    9: (3, (8, 16, 32), 2, True),
    10: (5, (8, 16, 32, 64, 128), 1, False),
    15: (5, (8, 16, 32, 64, 128), 1, True),
}


def letterbox(img: np.ndarray, size: tuple[int, int]) -> tuple[np.ndarray, float]:
    """The image resized into `size` (width, height) keeping its aspect, top-left, on black; and det_scale."""
    new_width, new_height, det_scale = letterbox_size(img.shape[0], img.shape[1], size)
    canvas = np.zeros((size[1], size[0], 3), dtype=np.uint8)
    canvas[:new_height, :new_width, :] = cv2.resize(img, (new_width, new_height))
    return canvas, det_scale


def distance2bbox(points: Array, distance: Array) -> Array:
    x1 = points[:, 0] - distance[:, 0]
    y1 = points[:, 1] - distance[:, 1]
    x2 = points[:, 0] + distance[:, 2]
    y2 = points[:, 1] + distance[:, 3]
    return np.stack([x1, y1, x2, y2], axis=-1)


def distance2kps(points: Array, distance: Array) -> Array:
    preds = []
    for i in range(0, distance.shape[1], 2):
        preds.append(points[:, i % 2] + distance[:, i])
        preds.append(points[:, i % 2 + 1] + distance[:, i + 1])
    return np.stack(preds, axis=-1)


class OrtSCRFD:
    """SCRFD on an onnxruntime session; `detect` answers like insightface's SCRFD.detect."""

    taskname = "detection"

    def __init__(self, model_file: str | Path, session: Any, static_input_size: tuple[int, int] | None) -> None:
        self.model_file = str(model_file)
        self.session = session
        inputs, outputs = session.get_inputs(), session.get_outputs()
        if len(outputs) not in LAYOUTS:
            raise ValueError(f"an SCRFD model has 6, 9, 10 or 15 outputs, not {len(outputs)}")
        self.input_name = inputs[0].name
        self.input_shape = inputs[0].shape
        self.output_names = [o.name for o in outputs]
        self.batched = len(outputs[0].shape) == 3
        self.fmc, strides, self.num_anchors, self.use_kps = LAYOUTS[len(outputs)]
        self.strides = list(strides)
        self.static_input_size = static_input_size  # a file with a fixed input size is only run at that size
        self.input_size = static_input_size or DEFAULT_SIZE
        self.input_mean, self.input_std = MEAN, STD
        self.det_thresh, self.nms_thresh = 0.5, NMS_THRESH
        self._centres: dict[tuple[int, int, int], Array] = {}
        self._centres_lock = threading.Lock()

    def prepare(self, ctx_id: int = 0, **kwargs: Any) -> None:
        """insightface's prepare(): det_thresh, nms_thresh, input_size."""
        self.det_thresh = float(kwargs.get("det_thresh", self.det_thresh))
        self.nms_thresh = float(kwargs.get("nms_thresh", self.nms_thresh))
        if kwargs.get("input_size") is not None and self.static_input_size is None:
            width, height = kwargs["input_size"]
            self.input_size = (int(width), int(height))

    def blob(self, img: np.ndarray) -> Array:
        """A letterboxed BGR uint8 image as the network's [1,3,H,W] input."""
        blob = cv2.dnn.blobFromImage(img, 1.0 / self.input_std, (img.shape[1], img.shape[0]),
                                     (self.input_mean, self.input_mean, self.input_mean), swapRB=True)
        return np.ascontiguousarray(blob, dtype=np.float32)

    def detect(self, img: np.ndarray, input_size: tuple[int, int] | None = None, max_num: int = 0,
               metric: str = "default", det_thresh: float | None = None) -> tuple[Array, Array | None]:
        """Faces in a BGR uint8 image: det [K,5] (x1, y1, x2, y2, score), kpss [K,5,2] (None without keypoints)."""
        threshold = self.det_thresh if det_thresh is None else float(det_thresh)
        size = self.static_input_size or (tuple(int(v) for v in input_size) if input_size else self.input_size)
        det_img, det_scale = letterbox(img, size)  # type: ignore[arg-type]
        scores_list, bboxes_list, kpss_list = self.forward(det_img, threshold)
        if sum(s.size for s in scores_list) == 0:
            return np.empty((0, 5), np.float32), (np.empty((0, 5, 2), np.float32) if self.use_kps else None)
        scores = np.vstack(scores_list)
        order = np.argsort(-scores.ravel(), kind="stable")
        pre_det = np.hstack((np.vstack(bboxes_list) / det_scale, scores)).astype(np.float32, copy=False)[order, :]
        kpss = (np.vstack(kpss_list) / det_scale)[order, :, :] if self.use_kps else None
        keep = nms(pre_det, self.nms_thresh)
        det = pre_det[keep, :]
        if kpss is not None:
            kpss = kpss[keep, :, :]
        det, kpss = max_num_choice(det, kpss, img.shape[:2], max_num, metric)
        return det, kpss

    def forward(self, img: np.ndarray, threshold: float) -> tuple[list[Array], list[Array], list[Array]]:
        """Candidates at or over `threshold` per stride: scores, boxes and points in letterbox pixels."""
        blob = self.blob(img)
        net_outs = self.session.run(self.output_names, {self.input_name: blob})
        height, width = blob.shape[2], blob.shape[3]
        fmc = self.fmc
        scores_list, bboxes_list, kpss_list = [], [], []
        for idx, stride in enumerate(self.strides):
            scores = self._output(net_outs, idx)
            bbox_preds = self._output(net_outs, idx + fmc) * stride
            centres = self.anchor_centres(height // stride, width // stride, stride)
            pos = np.where(scores >= threshold)[0]
            scores_list.append(scores[pos])
            bboxes_list.append(distance2bbox(centres, bbox_preds)[pos])
            if self.use_kps:
                kpss = distance2kps(centres, self._output(net_outs, idx + fmc * 2) * stride)
                kpss_list.append(kpss.reshape((kpss.shape[0], -1, 2))[pos])
        return scores_list, bboxes_list, kpss_list

    def _output(self, net_outs: list[Array], index: int) -> Array:
        return net_outs[index][0] if self.batched else net_outs[index]  # a batched file: its first image

    def anchor_centres(self, height: int, width: int, stride: int) -> Array:
        key = (height, width, stride)
        with self._centres_lock:
            centres = self._centres.get(key)
        if centres is None:
            centres = np.stack(list(np.mgrid[:height, :width][::-1]), axis=-1).astype(np.float32)
            centres = (centres * stride).reshape((-1, 2))
            if self.num_anchors > 1:
                centres = np.stack([centres] * self.num_anchors, axis=1).reshape((-1, 2))
            with self._centres_lock:
                if len(self._centres) < 100:  # one entry per detector size and stride
                    self._centres[key] = centres
        return centres
