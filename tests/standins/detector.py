"""Stand-ins for buffalo_l/det_10g.onnx (SCRFD-10GF face detector with five points).

The real file: input `input.1` [1,3,'?','?'] (BGR frame letterboxed into the det size at the top-left corner,
swapped to RGB, normalised as (x - 127.5) / 128); nine outputs, in this order: scores for strides 8, 16, 32
([K,1] each, K = (H/s)*(W/s)*2: two anchors per place, anchor index = (y*(W/s) + x)*2 + a), box distances
[K,4] (left, top, right, bottom, in stride units from the anchor centre (x*s, y*s)) for 8, 16, 32, then
five-point distances [K,10] (x, y pairs in stride units) for 8, 16, 32. Names '448','471','494', '451','474',
'497', '454','477','500'. insightface's SCRFD decodes them (anchor centres, distances times stride, threshold
0.5, division by det_scale, NMS 0.4).

Two builders, both run the real decode path because their outputs are real score/distance maps:

- `build_planted_detector`: a lookup detector. It fingerprints the input (16x16 average pools of the
  normalised, letterboxed input) and, when that is within a small distance of a known scene's fingerprint at
  the det size it was built for, emits that scene's planted maps (one anchor per face, distances chosen so the
  decode gives back the annotated box and points). Any other image, or any other input size, gives all-zero
  scores: no face.
- `build_tracking_detector`: a content-following detector. Per face, a normalised cross-correlation of the
  input's 4x4-cell luma averages with the face's template (cut at det scale) gives a stride-8 score map; the
  box and point distances are constant relative to the best anchor. Shift the content and the faces move
  with it, quantised to the stride-8 anchor grid (8 px at det scale): the raw detection jitter a tracker
  must smooth.

`letterbox_blob` reproduces SCRFD's preprocessing (used to fingerprint scenes and cut templates).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from tests.standins.onnx_file import save_graph

STRIDES = (8, 16, 32)
NUM_ANCHORS = 2
SCORE_NAMES = ("448", "471", "494")
BOX_NAMES = ("451", "474", "497")
KPS_NAMES = ("454", "477", "500")
OUTPUT_NAMES = SCORE_NAMES + BOX_NAMES + KPS_NAMES
FINGERPRINT_POOL = 16
FINGERPRINT_TAU = 2e-3  # mean squared difference of fingerprints (normalised units); RMS ~ 5.7 grey levels


# --------------------------------------------------------------------------------------------- preprocessing


def letterbox(image: np.ndarray, det_size: tuple[int, int]) -> tuple[np.ndarray, float]:
    """SCRFD._detect_candidates' letterbox: resize keeping the aspect ratio, paste at the top-left of a black
    det_size (width, height) canvas. Returns the canvas and det_scale (det pixels per image pixel)."""
    width, height = int(det_size[0]), int(det_size[1])
    im_ratio = float(image.shape[0]) / image.shape[1]
    model_ratio = float(height) / width
    if im_ratio > model_ratio:
        new_height = height
        new_width = int(new_height / im_ratio)
    else:
        new_width = width
        new_height = int(new_width * im_ratio)
    det_scale = float(new_height) / image.shape[0]
    resized = cv2.resize(image, (new_width, new_height))
    canvas = np.zeros((height, width, 3), dtype=np.uint8)
    canvas[:new_height, :new_width, :] = resized
    return canvas, det_scale


def letterbox_blob(image: np.ndarray, det_size: tuple[int, int]) -> tuple[np.ndarray, float]:
    """The exact input SCRFD.detect feeds the network for `image` at `det_size`: [1,3,H,W] float32, RGB,
    (x - 127.5) / 128; plus det_scale."""
    canvas, det_scale = letterbox(image, det_size)
    blob = cv2.dnn.blobFromImage(
        canvas, 1.0 / 128.0, (canvas.shape[1], canvas.shape[0]), (127.5, 127.5, 127.5), swapRB=True
    )
    return np.ascontiguousarray(blob, dtype=np.float32), det_scale


def _avg_pool(blob: np.ndarray, k: int) -> np.ndarray:
    n, c, h, w = blob.shape
    out: np.ndarray = (
        blob[:, :, : h // k * k, : w // k * k].reshape(n, c, h // k, k, w // k, k).mean(axis=(3, 5))
    )
    return out


def _as_face(face: Any) -> tuple[np.ndarray, np.ndarray]:
    """(box[4], points[5,2]) from a TruthFace, an app Face, an insightface Face (bbox/kps) or a dict."""
    if isinstance(face, dict):
        box = face.get("box", face.get("bbox"))
        pts = face.get("points", face.get("kps"))
    else:
        box = getattr(face, "box", None)
        if box is None:
            box = face.bbox
        pts = getattr(face, "points", None)
        if pts is None:
            pts = face.kps
    return np.asarray(box, dtype=np.float64)[:4], np.asarray(pts, dtype=np.float64).reshape(5, 2)


# --------------------------------------------------------------------------------------------- graph helpers


class _G:
    """A tiny graph builder."""

    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self._n = 0

    def name(self, hint: str) -> str:
        self._n += 1
        return f"{hint}_{self._n}"

    def const(self, value: np.ndarray, hint: str = "c") -> str:
        name = self.name(hint)
        self.inits.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def op(
        self,
        op_type: str,
        inputs: Sequence[str],
        hint: str | None = None,
        out: str | None = None,
        **attrs: Any,
    ) -> str:
        out = out or self.name(hint or op_type.lower())
        self.nodes.append(
            helper.make_node(op_type, list(inputs), [out], name=self.name("n_" + op_type), **attrs)
        )
        return out

    def fit_hw(self, x: str, target_hw: str) -> str:
        """Crop or zero-pad x [N,C,h,w] at the bottom/right to spatial size target_hw (int64 [2])."""
        zeros2 = self.const(np.zeros(2, np.int64), "z2")
        axes = self.const(np.array([2, 3], np.int64), "axes23")
        sliced = self.op("Slice", [x, zeros2, target_hw, axes], "fit_slice")
        shp = self.op("Shape", [sliced], "fit_shape")
        got = self.op(
            "Slice",
            [
                shp,
                self.const(np.array([2], np.int64)),
                self.const(np.array([4], np.int64)),
                self.const(np.array([0], np.int64)),
            ],
            "fit_hw",
        )
        diff = self.op("Sub", [target_hw, got], "fit_diff")
        pads = self.op("Concat", [self.const(np.zeros(6, np.int64), "z6"), diff], "fit_pads", axis=0)
        return self.op("Pad", [sliced, pads], "fit_pad", mode="constant")

    def input_hw(self, x: str) -> str:
        shp = self.op("Shape", [x], "in_shape")
        return self.op(
            "Slice",
            [
                shp,
                self.const(np.array([2], np.int64)),
                self.const(np.array([4], np.int64)),
                self.const(np.array([0], np.int64)),
            ],
            "in_hw",
        )

    def size_ok(self, hw: str, det_size: tuple[int, int]) -> str:
        """1.0 when the input's (H, W) equals det_size (width, height), else 0.0 (a float scalar)."""
        want = self.const(np.array([det_size[1], det_size[0]], np.int64), "det_hw")
        eq = self.op("Cast", [self.op("Equal", [hw, want], "eq")], "eqf", to=TensorProto.FLOAT)
        return self.op("ReduceMin", [eq], "size_ok", axes=[0], keepdims=0)

    def heads(self, maps: dict[int, str]) -> list[str]:
        """maps[stride] = [1, 2*(1+4+10), h, w] with channel a*15 + c (c: score, 4 box, 10 points) -> the nine
        outputs in SCRFD order."""
        outs: dict[str, str] = {}
        shapes = {0: 1, 1: 4, 2: 10}
        for s_idx, stride in enumerate(STRIDES):
            nhwc = self.op("Transpose", [maps[stride]], "nhwc", perm=[0, 2, 3, 1])
            # [1,h,w,2,15] so a reshape to [-1, C] after slicing gives row (y*w + x)*2 + a
            five = self.op(
                "Reshape", [nhwc, self.const(np.array([0, 0, 0, NUM_ANCHORS, 15], np.int64))], "nhwac"
            )
            for kind, (lo, hi) in enumerate(((0, 1), (1, 5), (5, 15))):
                part = self.op(
                    "Slice",
                    [
                        five,
                        self.const(np.array([lo], np.int64)),
                        self.const(np.array([hi], np.int64)),
                        self.const(np.array([4], np.int64)),
                    ],
                    "part",
                )
                name = (SCORE_NAMES, BOX_NAMES, KPS_NAMES)[kind][s_idx]
                outs[name] = self.op(
                    "Reshape", [part, self.const(np.array([-1, shapes[kind]], np.int64))], out=name
                )
        return [outs[n] for n in OUTPUT_NAMES]

    def save(
        self, path: Path, graph_name: str, input_shape: list[Any], output_shapes: list[list[Any]]
    ) -> Path:
        graph = helper.make_graph(
            self.nodes,
            graph_name,
            [helper.make_tensor_value_info("input.1", TensorProto.FLOAT, input_shape)],
            [
                helper.make_tensor_value_info(n, TensorProto.FLOAT, s)
                for n, s in zip(OUTPUT_NAMES, output_shapes, strict=True)
            ],
            initializer=self.inits,
        )
        save_graph(graph, path)
        return path


def _io_shapes(det_size: tuple[int, int], fixed_input: bool) -> tuple[list[Any], list[list[Any]]]:
    if fixed_input:
        w, h = det_size
        ks = [(h // s) * (w // s) * NUM_ANCHORS for s in STRIDES]
        return [1, 3, h, w], [[k, c] for c in (1, 4, 10) for k in ks]
    return [1, 3, "?", "?"], [[f"K{s}", c] for c in (1, 4, 10) for s in STRIDES]


# --------------------------------------------------------------------------------------------- planted


def _choose_stride(size: float) -> int:
    """The stride whose anchors (det_10g: 16/32 px at 8, 64/128 at 16, 256/512 at 32) fit a face this big."""
    if size < 64:
        return 8
    if size < 192:
        return 16
    return 32


def plant_faces(
    faces: Iterable[Any], det_scale: float, det_size: tuple[int, int], scores: Sequence[float] | None = None
) -> dict[int, np.ndarray]:
    """Planted maps for one scene: {stride: [2*15, h, w]} float32. Each face goes on the free anchor
    nearest its centre at the stride that fits its size (then the other anchor there, then neighbouring
    places, then the other strides), with distances that decode to exactly its box and points (image pixels
    times det_scale)."""
    w, h = det_size
    maps = {s: np.zeros((NUM_ANCHORS * 15, h // s, w // s), np.float32) for s in STRIDES}
    used: set[tuple[int, int, int, int]] = set()
    for i, face in enumerate(faces):
        box, pts = _as_face(face)
        box = box * det_scale
        pts = pts * det_scale
        score = 0.92 - 0.02 * i if scores is None else float(scores[i])
        cx, cy = (box[0] + box[2]) / 2.0, (box[1] + box[3]) / 2.0
        size = float(np.sqrt(max(1.0, (box[2] - box[0]) * (box[3] - box[1]))))
        first = _choose_stride(size)
        order = [first] + sorted((s for s in STRIDES if s != first), key=lambda s: abs(np.log(s / first)))
        slot = None
        for stride in order:
            gh, gw = h // stride, w // stride
            ax0 = int(np.clip(np.rint(cx / stride), 0, gw - 1))
            ay0 = int(np.clip(np.rint(cy / stride), 0, gh - 1))
            cands = sorted(
                (
                    (ax, ay)
                    for ax in range(max(0, ax0 - 3), min(gw, ax0 + 4))
                    for ay in range(max(0, ay0 - 3), min(gh, ay0 + 4))
                ),
                key=lambda p: (p[0] * stride - cx) ** 2 + (p[1] * stride - cy) ** 2,
            )
            for ax, ay in cands:
                for a in range(NUM_ANCHORS):
                    if (stride, ay, ax, a) not in used:
                        slot = (stride, ay, ax, a)
                        break
                if slot:
                    break
            if slot:
                break
        if slot is None:  # pragma: no cover - only for absurdly crowded scenes
            raise ValueError("no free anchor for a planted face")
        used.add(slot)
        stride, ay, ax, a = slot
        acx, acy = ax * stride, ay * stride
        values = np.empty(15, np.float64)
        values[0] = score
        values[1:5] = [
            (acx - box[0]) / stride,
            (acy - box[1]) / stride,
            (box[2] - acx) / stride,
            (box[3] - acy) / stride,
        ]
        values[5:15] = ((pts - [acx, acy]) / stride).ravel()
        maps[stride][a * 15 : (a + 1) * 15, ay, ax] = values.astype(np.float32)
    return maps


def fingerprint(blob: np.ndarray) -> np.ndarray:
    """The planted detector's fingerprint of a network input: 16x16 average pools, [1,3,H/16,W/16]."""
    return _avg_pool(blob, FINGERPRINT_POOL).astype(np.float32)


def build_planted_detector(
    path: str | Path,
    scenes: Sequence[tuple[np.ndarray, Sequence[Any]]],
    det_size: tuple[int, int] = (640, 640),
    fixed_input: bool = False,
    scores: Sequence[Sequence[float]] | None = None,
) -> Path:
    """Write a det_10g-shaped lookup detector to `path` and return the path.

    scenes: (BGR image, faces) pairs; a face is anything with box/points (TruthFace, app Face), bbox/kps
    (insightface Face) or a dict with those keys, in image pixels. scores: optional per-scene per-face scores
    (default 0.92, 0.90, 0.88, ... in the given order).

    Guarantees, through insightface's SCRFD.detect(image, input_size=det_size) (or any code that
    letterboxes and decodes the same way): for a scene's image, exactly its faces, boxes and points within
    1 px (float rounding only; each is decoded from one anchor); for any image whose letterboxed input
    differs from every scene's (mean squared difference of 16x16 average pools above 2e-3 in normalised
    units, i.e. more than a few grey levels: a blank frame, noise, another photo, the same photo moved by
    16 px) or any input size other than det_size: no face (all scores 0). Faces of one scene that overlap by
    more than NMS 0.4 would suppress each other (none in the shipped photos). fixed_input=True declares the
    input [1,3,H,W] fixed at det_size (and fixed output sizes), like a re-exported static det_10g; otherwise
    the input is [1,3,'?','?'] like the real file.
    """
    path = Path(path)
    det_size = (int(det_size[0]), int(det_size[1]))
    if det_size[0] % 32 or det_size[1] % 32:
        raise ValueError("det_size must be a multiple of 32")
    prints: list[np.ndarray] = []
    planted: dict[int, list[np.ndarray]] = {s: [] for s in STRIDES}
    for i, (image, faces) in enumerate(scenes):
        blob, det_scale = letterbox_blob(image, det_size)
        prints.append(fingerprint(blob)[0])
        maps = plant_faces(faces, det_scale, det_size, None if scores is None else scores[i])
        for s in STRIDES:
            planted[s].append(maps[s])
    g = _G()
    x = "input.1"
    hw = g.input_hw(x)
    ok = g.size_ok(hw, det_size)
    # fingerprint distance to each scene -> gate [S,1,1,1]
    fp = g.op("AveragePool", [x], "fp", kernel_shape=[FINGERPRINT_POOL] * 2, strides=[FINGERPRINT_POOL] * 2)
    fp_hw = g.const(
        np.array([det_size[1] // FINGERPRINT_POOL, det_size[0] // FINGERPRINT_POOL], np.int64), "fp_hw"
    )
    fp = g.fit_hw(fp, fp_hw)
    diff = g.op("Sub", [fp, g.const(np.stack(prints).astype(np.float32), "scene_prints")], "fp_diff")
    dist = g.op("ReduceMean", [g.op("Mul", [diff, diff], "fp_sq")], "fp_dist", axes=[1, 2, 3], keepdims=1)
    near = g.op(
        "Cast",
        [g.op("Less", [dist, g.const(np.array(FINGERPRINT_TAU, np.float32), "tau")], "near")],
        "nearf",
        to=TensorProto.FLOAT,
    )
    gate = g.op("Mul", [near, ok], "gate")
    gated_maps: dict[int, str] = {}
    for s in STRIDES:
        stride_hw = g.op("Div", [hw, g.const(np.array(s, np.int64))], f"hw{s}")
        fitted = g.fit_hw(g.const(np.stack(planted[s]), f"planted{s}"), stride_hw)
        gated_maps[s] = g.op(
            "ReduceSum",
            [g.op("Mul", [fitted, gate], "gated"), g.const(np.array([0], np.int64))],
            f"map{s}",
            keepdims=1,
        )
    g.heads(gated_maps)
    inp, outs = _io_shapes(det_size, fixed_input)
    return g.save(path, "det_10g_planted_standin", inp, outs)


# --------------------------------------------------------------------------------------------- tracking

TRACK_STRIDE = 8  # the anchor grid the detections land on
TRACK_CELL = 4  # template cells are 8x8 averages taken every 4 det pixels (half-overlapping)
TRACK_EXTENT = 1.2  # template size relative to the face box
TRACK_MAX_RADIUS = 12  # template at most 25x25 cells (the middle of a big face)
LUMA = np.array([0.299, 0.587, 0.114], np.float32)  # blob channels are RGB


def _track_cells(blob: np.ndarray) -> np.ndarray:
    """numpy twin of the graph's AveragePool(kernel 8, stride 4, pads 2, count_include_pad 0)."""
    _, c, h, w = blob.shape
    padded = np.zeros((c, h + 4, w + 4), np.float64)
    padded[:, 2:-2, 2:-2] = blob[0]
    count = np.zeros((h + 4, w + 4), np.float64)
    count[2:-2, 2:-2] = 1.0
    sums = np.zeros((c, h // 4, w // 4))
    counts = np.zeros((h // 4, w // 4))
    for dy in range(8):
        for dx in range(8):
            sums += padded[:, dy : dy + h : 4, dx : dx + w : 4][:, : h // 4, : w // 4]
            counts += count[dy : dy + h : 4, dx : dx + w : 4][: h // 4, : w // 4]
    return sums / counts


def build_tracking_detector(
    path: str | Path,
    image: np.ndarray,
    faces: Sequence[Any],
    det_size: tuple[int, int] = (640, 640),
    ncc_centre: float = 0.85,
    ncc_gain: float = 30.0,
    only_at_det_size: bool = True,
) -> Path:
    """Write a det_10g-shaped detector that follows content to `path` and return the path.

    image, faces: a reference frame (BGR) and its faces in frame pixels (any face-like object, see
    `build_planted_detector`). Each face's template is cut from the reference frame as SCRFD sees it at
    det_size (letterboxed): luma averages of 4x4 det-pixel cells over 1.2x the face box (at most 25x25
    cells). At run time the network takes the same averages of its input, correlates them with each
    template (normalised cross-correlation, NCC, at every cell), keeps on each stride-8 anchor the best NCC of
    its cell and the half-cell neighbours (3x3 max-pool, stride 2), and scores = sigmoid(ncc_gain * (NCC -
    ncc_centre)) on anchor 0 of each stride-8 place (strides 16 and 32 stay silent). Box and point distances
    are those of the face's reference anchor, so a detection is the reference face moved by a whole number
    of 8-px det cells.

    Guarantees: on the reference frame, exactly the reference faces (within 1 px, score ~0.99). Shift the
    content by (dx, dy) frame pixels in the same frame size and each face whose template window stays in the
    frame is found moved by (dx, dy) rounded to the 8-px det grid: error <= 6/det_scale px per axis (half a
    step plus half a cell; ties between neighbours sharing a cell). Measured on t1 panned in 640x360 frames:
    true peaks NCC >= 0.9, anything else <= 0.77. A blank or noise frame, or an unrelated photo, gives no
    face. only_at_det_size: other input sizes give no face (the templates only
    make sense at one scale). Cost: a few ms per 640x640 input for a handful of faces.
    """
    path = Path(path)
    det_size = (int(det_size[0]), int(det_size[1]))
    blob, det_scale = letterbox_blob(image, det_size)
    cells = np.tensordot(LUMA, _avg_pool(blob, TRACK_CELL)[0], axes=1)[None]  # [1, H/4, W/4] luma
    step = TRACK_STRIDE // TRACK_CELL
    gh, gw = det_size[1] // TRACK_STRIDE, det_size[0] // TRACK_STRIDE
    templates, sizes, dists = [], [], []
    for face in faces:
        box, pts = _as_face(face)
        box, pts = box * det_scale, pts * det_scale
        cx, cy = (box[0] + box[2]) / 2.0, (box[1] + box[3]) / 2.0
        # the anchor (8*cj, 8*ci) nearest the face's centre; cell (2ci, 2cj) is centred 1.5 px from it
        ci = int(np.clip(np.rint(cy / TRACK_STRIDE), 0, gh - 1))
        cj = int(np.clip(np.rint(cx / TRACK_STRIDE), 0, gw - 1))
        rh = min(TRACK_MAX_RADIUS, max(1, int(round(TRACK_EXTENT * (box[3] - box[1]) / (2 * TRACK_CELL)))))
        rw = min(TRACK_MAX_RADIUS, max(1, int(round(TRACK_EXTENT * (box[2] - box[0]) / (2 * TRACK_CELL)))))
        padded = np.pad(cells, ((0, 0), (rh, rh), (rw, rw)))
        tpl = padded[:, step * ci : step * ci + 2 * rh + 1, step * cj : step * cj + 2 * rw + 1]
        tpl = tpl - tpl.mean()
        norm = np.linalg.norm(tpl)
        if norm < 1e-6:
            raise ValueError("a face's template is flat; is the face inside the image?")
        templates.append(tpl / norm)
        sizes.append((rh, rw))
        acx, acy = cj * TRACK_STRIDE, ci * TRACK_STRIDE
        d = np.empty(14, np.float64)
        d[0:4] = [
            (acx - box[0]) / TRACK_STRIDE,
            (acy - box[1]) / TRACK_STRIDE,
            (box[2] - acx) / TRACK_STRIDE,
            (box[3] - acy) / TRACK_STRIDE,
        ]
        d[4:14] = ((pts - [acx, acy]) / TRACK_STRIDE).ravel()
        dists.append(d.astype(np.float32))
    if not templates:
        raise ValueError("a tracking detector needs at least one face")
    g = _G()
    x = "input.1"
    hw = g.input_hw(x)
    pooled3 = g.op("AveragePool", [x], "cells_rgb", kernel_shape=[TRACK_CELL] * 2, strides=[TRACK_CELL] * 2)
    p = g.op(
        "ReduceSum",
        [
            g.op("Mul", [pooled3, g.const(LUMA.reshape(1, 3, 1, 1), "luma_w")], "luma_parts"),
            g.const(np.array([1], np.int64)),
        ],
        "cells",
        keepdims=1,
    )  # [1,1,H/4,W/4]
    psq = g.op("Mul", [p, p], "cells_sq")
    # numerators of all faces in one Conv (ORT runs one multi-output Conv about as fast as a single one):
    # templates zero-padded to one kernel size around the same centre
    big_h = max(r for r, _ in sizes)
    big_w = max(r for _, r in sizes)
    kernel = np.zeros((len(templates), 1, 2 * big_h + 1, 2 * big_w + 1), np.float32)
    for f, (tpl, (rh, rw)) in enumerate(zip(templates, sizes, strict=True)):
        kernel[f, :, big_h - rh : big_h + rh + 1, big_w - rw : big_w + rw + 1] = tpl
    num_all = g.op("Conv", [p, g.const(kernel, "templates")], "ncc_num", pads=[big_h, big_w, big_h, big_w])
    nccs = []
    for f, (tpl, (rh, rw)) in enumerate(zip(templates, sizes, strict=True)):
        n = float(tpl.size)
        win: dict[str, Any] = dict(
            kernel_shape=[2 * rh + 1, 2 * rw + 1], pads=[rh, rw, rh, rw], count_include_pad=1
        )
        num = g.op(
            "Slice",
            [
                num_all,
                g.const(np.array([f], np.int64)),
                g.const(np.array([f + 1], np.int64)),
                g.const(np.array([1], np.int64)),
            ],
            "num_f",
        )
        s1 = g.op("Mul", [g.op("AveragePool", [p], "s1", **win), g.const(np.array(n, np.float32))], "s1_sum")
        s2 = g.op(
            "Mul", [g.op("AveragePool", [psq], "s2", **win), g.const(np.array(n, np.float32))], "s2_sum"
        )
        var = g.op(
            "Sub",
            [s2, g.op("Div", [g.op("Mul", [s1, s1], "s1sq"), g.const(np.array(n, np.float32))], "m")],
            "varsum",
        )
        var = g.op("Max", [var, g.const(np.array(1e-4 * n, np.float32), "eps")], "varsum_eps")
        nccs.append(g.op("Div", [num, g.op("Sqrt", [var], "den")], "ncc_fine"))  # NCC at every 4x4 cell
    ncc4 = g.op("Concat", nccs, "ncc_fine_all", axis=1) if len(nccs) > 1 else nccs[0]
    # the best of the cell on each anchor and its half-cell neighbours -> the stride-8 anchor grid
    ncc = g.op("MaxPool", [ncc4], "ncc_all", kernel_shape=[3, 3], strides=[step, step], pads=[1, 1, 1, 1])
    stack = g.op(
        "Sigmoid",
        [
            g.op(
                "Mul",
                [
                    g.op("Sub", [ncc, g.const(np.array(ncc_centre, np.float32))], "nc"),
                    g.const(np.array(ncc_gain, np.float32)),
                ],
                "ng",
            )
        ],
        "scores_all",
    )
    best = g.op("ReduceMax", [stack], "best", axes=[1], keepdims=1)  # [1,1,h,w]
    if only_at_det_size:
        best = g.op("Mul", [best, g.size_ok(hw, det_size)], "best_gated")
    which = g.op("ArgMax", [stack], "which", axis=1, keepdims=0)  # [1,h,w]
    d_all = g.op("Gather", [g.const(np.stack(dists), "face_dists"), which], "dists", axis=0)  # [1,h,w,14]
    d_nchw = g.op("Transpose", [d_all], "dists_nchw", perm=[0, 3, 1, 2])  # [1,14,h,w]
    zero = g.op("Mul", [best, g.const(np.array(0.0, np.float32))], "zero_map")
    # channels a*15 + c: anchor 0 = (score, distances), anchor 1 = (0, same distances)
    maps = {8: g.op("Concat", [best, d_nchw, zero, d_nchw], "map8", axis=1)}
    for s in (16, 32):
        pool = g.op("AveragePool", [zero], f"zero{s}", kernel_shape=[s // 8] * 2, strides=[s // 8] * 2)
        maps[s] = g.op("Tile", [pool, g.const(np.array([1, 30, 1, 1], np.int64))], f"map{s}")
    g.heads(maps)
    inp, outs = _io_shapes(det_size, False)
    return g.save(path, "det_10g_tracking_standin", inp, outs)
