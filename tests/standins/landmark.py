"""Stand-in for buffalo_l/2d106det.onnx (insightface's 2D 106-point landmark model, MobileNet-0.5 in the real file).

The real file: input `data` [None,3,192,192] (a face cropped around its detection box: centre at the crop's
centre, the box's longer side scaled to 192/1.5 px, RGB, raw 0..255 values: the graph normalises inside
itself, and its first node names make insightface's `Landmark` pick input_mean 0 and input_std 1), one
output `fc1` [1,212]: 106 (x, y) pairs in the crop's normalised space, -1..1 across the 192 px.
insightface's `model_zoo.get_model` routes any model with a 192x192 input to `Landmark`, which reads
lmk_num = 212 / 2 = 106 and decodes points as (p + 1) * 96, mapped back by the inverse crop transform.

The stand-in keeps all of that and answers a fixed face layout (`LAYOUT`, in insightface's 106-point index
order, see app/core/landmarks.py) shifted by the content: output = LAYOUT + GAIN * c, where c is the
brightness centroid of the crop in normalised coordinates, brightness = 0.6 R + 0.3 G + 0.1 B of the
in-graph normalised input, plus one. A uniform crop gives c = 0, so on a flat frame the points are exactly
LAYOUT mapped through the crop; on a photo they move by a pixel or so, which makes a differential test see
a wrong crop, colour order or normalisation. `expected_landmarks` computes the same in numpy.

LAYOUT is drawn in ArcFace's 112 px template (eyes at (38.3, 51.7) and (73.5, 51.5), nose tip (56.0, 71.7),
mouth corners (41.5, 92.4) and (70.7, 92.2)) and normalised for a detection box centred at (56, 66) whose
longer side is 90 px (the Tom Hanks crop's box): on a frontal face with such a box the stand-in's eyes,
nose and mouth land near the real ones.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from onnx import TensorProto, helper, numpy_helper

from tests.standins.onnx_file import save_graph

INPUT_NAME = "data"
OUTPUT_NAME = "fc1"
SIZE = 192
GAIN = 0.25
RGB_WEIGHTS = (0.6, 0.3, 0.1)  # asymmetric, so a swapped colour order moves the points
TEMPLATE_CENTRE = (56.0, 66.0)
TEMPLATE_BOX = 90.0


def _ellipse(cx: float, cy: float, a: float, b: float, angles: np.ndarray) -> np.ndarray:
    return np.stack([cx + a * np.cos(angles), cy + b * np.sin(angles)], axis=1)


def template_layout() -> np.ndarray:
    """The 106 points in ArcFace 112 px template coordinates, insightface's index order (image-left first)."""
    p = np.zeros((106, 2), np.float64)
    # Contour, image-left top -> chin -> image-right top (insightface numbers it in this odd order).
    contour = [1, 9, 10, 11, 12, 13, 14, 15, 16, 2, 3, 4, 5, 6, 7, 8, 0,
               24, 23, 22, 21, 20, 19, 18, 32, 31, 30, 29, 28, 27, 26, 25, 17]
    p[contour] = _ellipse(56.0, 50.0, 37.0, 62.0, np.linspace(np.pi, 0.0, len(contour)))  # lower half, left to right
    # Brows: upper edge outer -> inner on the left, inner -> outer on the right; lower edges below them.
    p[[43, 48, 49, 51, 50]] = np.stack([np.linspace(26, 50, 5), [40, 37, 36, 37, 39]], axis=1)
    p[[46, 47, 45, 44]] = np.stack([np.linspace(47, 29, 4), [42, 41, 41, 43]], axis=1)
    p[[102, 103, 104, 105, 101]] = np.stack([np.linspace(62, 86, 5), [39, 37, 36, 37, 40]], axis=1)
    p[[100, 99, 98, 97]] = np.stack([np.linspace(65, 83, 4), [42, 41, 41, 43]], axis=1)
    # Eyes: a ring of eight, one extra point and the pupil (38 left, 88 right).
    ring = np.linspace(np.pi, -np.pi, 8, endpoint=False)
    p[[35, 41, 40, 42, 39, 37, 33, 36]] = _ellipse(38.3, 51.7, 8.0, 3.5, ring)
    p[34] = (34.0, 50.0)
    p[38] = (38.3, 51.7)
    p[[89, 95, 94, 96, 93, 91, 87, 90]] = _ellipse(73.5, 51.5, -8.0, 3.5, ring)
    p[92] = (78.0, 50.0)
    p[88] = (73.5, 51.5)
    # Nose: bridge top -> tip (72, 73, 74, 86), sides and nostrils.
    p[[72, 73, 74, 86]] = [(56.0, 55.0), (56.0, 60.0), (56.0, 66.0), (56.0, 71.7)]
    p[[75, 76, 77, 78, 79, 80]] = [(52.0, 58.0), (50.0, 66.0), (48.0, 72.0), (47.0, 75.0), (51.0, 77.0),
                                   (56.0, 78.0)]
    p[[81, 82, 83, 85, 84]] = [(60.0, 58.0), (62.0, 66.0), (64.0, 72.0), (61.0, 77.0), (65.0, 75.0)]
    # Mouth: corners 52 (left) and 61 (right); outer upper lip left -> right, outer lower lip right -> left;
    # inner corners 65, 69, inner upper lip 66, 62, 70, inner lower lip 57, 60, 54 (right -> left).
    p[52], p[61] = (41.5, 92.4), (70.7, 92.2)
    p[[64, 63, 71, 67, 68]] = [(46.0, 88.5), (51.0, 86.5), (56.0, 87.5), (61.0, 86.5), (66.0, 88.5)]
    p[[58, 59, 53, 56, 55]] = [(66.0, 96.5), (61.0, 98.5), (56.0, 99.0), (51.0, 98.5), (46.0, 96.5)]
    p[[65, 69]] = (44.5, 92.3), (67.7, 92.2)
    p[[66, 62, 70]] = [(50.0, 91.0), (56.0, 91.3), (62.0, 91.0)]
    p[[57, 60, 54]] = [(62.0, 94.0), (56.0, 94.5), (50.0, 94.0)]
    return p


def layout() -> np.ndarray:
    """The stand-in's answer for a uniform crop: (106, 2) float32 in the crop's normalised space (-1..1)."""
    half = TEMPLATE_BOX * 1.5 / 2.0  # the crop spans 1.5x the box's longer side
    return ((template_layout() - np.array(TEMPLATE_CENTRE)) / half).astype(np.float32)


def _grid() -> tuple[np.ndarray, np.ndarray]:
    coords = ((np.arange(SIZE, dtype=np.float32) + 0.5) / (SIZE / 2.0) - 1.0).astype(np.float32)
    return coords.reshape(1, 1, 1, SIZE), coords.reshape(1, 1, SIZE, 1)


def _brightness(blob: np.ndarray) -> np.ndarray:
    x = (blob.astype(np.float32) - 127.5) / 128.0
    w = np.asarray(RGB_WEIGHTS, np.float32).reshape(1, 3, 1, 1)
    out: np.ndarray = (x * w).sum(axis=1, keepdims=True) + 1.0
    return out


def expected_output(blob: np.ndarray) -> np.ndarray:
    """numpy reference of the graph: `blob` [N,3,192,192] RGB 0..255 -> [N,212]."""
    gx, gy = _grid()
    weight = _brightness(blob)
    total = weight.sum(axis=(1, 2, 3))
    cx = (weight * gx).sum(axis=(1, 2, 3)) / total
    cy = (weight * gy).sum(axis=(1, 2, 3)) / total
    shift = GAIN * np.stack([cx, cy], axis=1)  # [N,2]
    out: np.ndarray = (layout()[None, :, :] + shift[:, None, :]).reshape(len(blob), 212).astype(np.float32)
    return out


def crop_matrix(box: tuple[float, float, float, float]) -> np.ndarray:
    """insightface Landmark.get's crop transform (rotation 0) for a detection box: frame -> 192 px crop."""
    x1, y1, x2, y2 = box
    scale = SIZE / (max(x2 - x1, y2 - y1) * 1.5)
    cx, cy = (x1 + x2) / 2.0, (y1 + y2) / 2.0
    return np.array([[scale, 0.0, SIZE / 2.0 - cx * scale], [0.0, scale, SIZE / 2.0 - cy * scale]])


def expected_landmarks(frame: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray:
    """Where the stand-in puts the 106 points of the face in `box`, in frame pixels (numpy, no insightface)."""
    m = crop_matrix(box)
    crop = cv2.warpAffine(frame, m, (SIZE, SIZE), borderValue=0.0)
    blob = crop[:, :, ::-1].transpose(2, 0, 1)[None].astype(np.float32)
    pred = expected_output(blob).reshape(106, 2)
    pts = (pred.astype(np.float64) + 1.0) * (SIZE // 2)
    inv = cv2.invertAffineTransform(m)
    return (pts @ inv[:, :2].T + inv[:, 2]).astype(np.float32)


def frame_layout(box: tuple[float, float, float, float]) -> np.ndarray:
    """The stand-in's points for a uniform crop around `box`, in frame pixels (where a flat frame puts them)."""
    inv = cv2.invertAffineTransform(crop_matrix(box))
    pts = (layout().astype(np.float64) + 1.0) * (SIZE // 2)
    return (pts @ inv[:, :2].T + inv[:, 2]).astype(np.float32)


def build_landmarker(path: str | Path) -> Path:
    """Write a stand-in 2d106det.onnx to `path` and return the path.

    Guarantees: loads through `insightface.model_zoo.get_model` as `Landmark` with input_mean 0.0,
    input_std 1.0, input_size (192, 192), lmk_num 106, lmk_dim 2, taskname 'landmark_2d_106'; output =
    `layout()` shifted by GAIN times the crop's brightness centroid (see the module docstring).
    """
    path = Path(path)
    gx, gy = _grid()
    nodes = [
        # mxnet-style in-graph normalisation; the names make insightface read input_mean 0, input_std 1.
        helper.make_node("Sub", [INPUT_NAME, "mean"], ["centred"], name="_minusscalar0"),
        helper.make_node("Mul", ["centred", "inv_std"], ["normed"], name="_mulscalar0"),
        helper.make_node("Conv", ["normed", "rgb_w"], ["luma"], name="luma_conv", kernel_shape=[1, 1]),
        helper.make_node("Add", ["luma", "one"], ["weight"], name="weight_offset"),
        helper.make_node("ReduceSum", ["weight", "all_axes"], ["total"], name="weight_total", keepdims=0),
        helper.make_node("Mul", ["weight", "grid_x"], ["wx"], name="moment_x"),
        helper.make_node("Mul", ["weight", "grid_y"], ["wy"], name="moment_y"),
        helper.make_node("ReduceSum", ["wx", "all_axes"], ["sx"], name="moment_x_sum", keepdims=0),
        helper.make_node("ReduceSum", ["wy", "all_axes"], ["sy"], name="moment_y_sum", keepdims=0),
        helper.make_node("Div", ["sx", "total"], ["cx"], name="centroid_x"),
        helper.make_node("Div", ["sy", "total"], ["cy"], name="centroid_y"),
        helper.make_node("Concat", ["cx", "cy"], ["c"], name="centroid", axis=1),
        helper.make_node("Mul", ["c", "gain"], ["shift"], name="shift_gain"),
        helper.make_node("Tile", ["shift", "reps"], ["shift_all"], name="shift_tile"),
        helper.make_node("Add", ["shift_all", "layout"], [OUTPUT_NAME], name="fc1"),
    ]
    inits = [
        numpy_helper.from_array(np.array(127.5, np.float32), "mean"),
        numpy_helper.from_array(np.array(1.0 / 128.0, np.float32), "inv_std"),
        numpy_helper.from_array(np.asarray(RGB_WEIGHTS, np.float32).reshape(1, 3, 1, 1), "rgb_w"),
        numpy_helper.from_array(np.array(1.0, np.float32), "one"),
        numpy_helper.from_array(np.array([2, 3], np.int64), "all_axes"),
        numpy_helper.from_array(gx, "grid_x"),
        numpy_helper.from_array(gy, "grid_y"),
        numpy_helper.from_array(np.array(GAIN, np.float32), "gain"),
        numpy_helper.from_array(np.array([1, 106], np.int64), "reps"),
        numpy_helper.from_array(layout().reshape(1, 212), "layout"),
    ]
    graph = helper.make_graph(
        nodes,
        "2d106det_standin",
        [helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, ["None", 3, SIZE, SIZE])],
        [helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, ["None", 212])],
        initializer=inits,
    )
    return save_graph(graph, path)
