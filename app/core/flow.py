"""Sparse optical flow of a face between two frames, made cheap where it is spent.

- Grey levels only where flow looks: a whole 1080p frame costs about a millisecond to turn grey, while flow
  reads a margin around each face (a close-up's is a third of the frame, a small face's far less). A
  `GreyFrame` converts the regions asked for (of a region that moved, only the strips it did not already
  have) into a frame-sized buffer, with exactly the grey levels of converting the whole frame.
- A window that stays: a face's flow window (its region and the size a big face is downscaled to) is kept
  while the face moves a little, so the next frame's "previous" image is this frame's, already converted
  and resized, instead of another region of it.
- A cheaper forward-backward check (see flow_similarity).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import cv2
import numpy as np
import numpy.typing as npt

from app.core.types import Frame

F64 = npt.NDArray[np.float64]
Gray = npt.NDArray[np.uint8]
Box = tuple[float, float, float, float]
Region = tuple[int, int, int, int]  # x1, y1, x2, y2 (exclusive)

FLOW_BOX_PX = 160.0  # faces wider than this are tracked on a downscaled copy
_MAX_PARTS = 16  # converted rectangles remembered before the frame is simply converted whole


class FlowSettings(Protocol):
    """What flow needs of the tracker's configuration (app.core.tracker.TrackerConfig has these)."""

    @property
    def max_features(self) -> int: ...

    @property
    def min_inliers(self) -> int: ...

    @property
    def fb_max_error(self) -> float: ...


def _overlap(a: Region, b: Region) -> int:
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    return max(0, w) * max(0, h)


def _difference(region: Region, part: Region) -> list[Region]:
    """`region` less `part` (which overlaps it), as up to four rectangles."""
    x1, y1, x2, y2 = region
    px1, py1, px2, py2 = part
    top, bottom = max(y1, py1), min(y2, py2)
    out = [(x1, y1, x2, top), (x1, bottom, x2, y2), (x1, top, max(x1, px1), bottom), (min(x2, px2), top, x2, bottom)]
    return [r for r in out if r[2] > r[0] and r[3] > r[1]]


class GreyFrame:
    """The grey levels of one BGR frame, converted region by region on demand.

    Holds the BGR frame until release(): regions not converted by then can no longer be asked for. The
    frame must not change while it is held."""

    def __init__(self, frame: Frame) -> None:
        self._frame: Frame | None = frame
        self.shape: tuple[int, int] = (int(frame.shape[0]), int(frame.shape[1]))
        self._grey: Gray = np.empty(self.shape, dtype=np.uint8)
        self._parts: list[Region] = []
        self._whole = False
        self._scaled: dict[tuple[int, int, int, int, int, int], Gray] = {}

    def _covered(self, region: Region) -> bool:
        x1, y1, x2, y2 = region
        return self._whole or any(a <= x1 and b <= y1 and x2 <= c and y2 <= d for a, b, c, d in self._parts)

    def region(self, region: Region) -> Gray:
        """The grey levels of `region` (a view into the frame-sized buffer)."""
        x1, y1, x2, y2 = region
        if not self._covered(region):
            if self._frame is None:
                raise RuntimeError(f"grey region {region} asked for after the frame was released")
            if len(self._parts) >= _MAX_PARTS:
                cv2.cvtColor(self._frame, cv2.COLOR_BGR2GRAY, dst=self._grey)
                self._whole = True
            else:
                # A face's region moves a little from frame to frame: convert only what the part converted
                # before that overlaps it most leaves out.
                best = max(self._parts, key=lambda part: _overlap(part, region), default=None)
                todo = [region] if best is None or _overlap(best, region) == 0 else _difference(region, best)
                for a, b, c, d in todo:
                    cv2.cvtColor(self._frame[b:d, a:c], cv2.COLOR_BGR2GRAY, dst=self._grey[b:d, a:c])
                self._parts.append(region)
        return self._grey[y1:y2, x1:x2]

    def scaled(self, region: Region, size: tuple[int, int]) -> Gray:
        """The grey levels of `region` resized to `size` (width, height) as flow resizes them, kept for the
        next ask (the next frame's flow reads this frame's prepared image as its previous one)."""
        key = (*region, *size)
        out = self._scaled.get(key)
        if out is None:
            resized = cv2.resize(self.region(region), size, interpolation=cv2.INTER_LINEAR)
            out = self._scaled[key] = np.asarray(resized, dtype=np.uint8)
        return out

    def whole(self) -> Gray:
        """The whole frame's grey levels."""
        return self.region((0, 0, self.shape[1], self.shape[0]))

    def release(self) -> None:
        """Drop the BGR frame (the regions converted so far stay usable)."""
        self._frame = None

    @property
    def held(self) -> bool:
        return self._frame is not None


def flow_region(box: Box, shape: tuple[int, int]) -> Region | None:
    """Where flow looks for the content of `box`: the box and a margin wide enough for fast motion, clipped
    to the frame (height, width); None when the box or the region is too small to track."""
    h, w = shape
    x1, y1, x2, y2 = box
    bw, bh = x2 - x1, y2 - y1
    if bw < 8 or bh < 8:
        return None
    m = max(bw, bh) * 0.6 + 16
    rx1, ry1 = max(0, int(x1 - m)), max(0, int(y1 - m))
    rx2, ry2 = min(w, int(x2 + m)), min(h, int(y2 + m))
    if rx2 - rx1 < 16 or ry2 - ry1 < 16:
        return None
    return rx1, ry1, rx2, ry2


@dataclass(frozen=True)
class FlowWindow:
    """The region of the frame flow reads for a face, and the size it is tracked at (None: full size).

    A big face (a close-up at 1080p) carries far more pixels than flow needs, so its region is downscaled
    until the box is about FLOW_BOX_PX wide, which keeps the cost flat across resolutions."""

    region: Region
    size: tuple[int, int] | None

    @property
    def scale(self) -> float:
        return 1.0 if self.size is None else self.size[0] / (self.region[2] - self.region[0])


def flow_window(box: Box, shape: tuple[int, int], previous: FlowWindow | None = None) -> FlowWindow | None:
    """The window for the face in `box`: `previous` while it is still nearly the one the box asks for (its
    edges within a tenth of the margin, its scale within 5%), so that a face that moves a little keeps its
    window, and the next frame's flow finds this frame's grey (and downscaled) image ready; else a new one."""
    region = flow_region(box, shape)
    if region is None:
        return None
    x1, y1, x2, y2 = box
    side = max(x2 - x1, y2 - y1)
    s = FLOW_BOX_PX / side
    if previous is not None and previous.region[2] <= shape[1] and previous.region[3] <= shape[0]:
        tolerance = max(2.0, 0.1 * (0.6 * side + 16))
        near = all(abs(a - b) <= tolerance for a, b in zip(previous.region, region, strict=True))
        same_scale = (previous.size is None) == (s >= 1.0) and (s >= 1.0 or abs(previous.scale / s - 1.0) < 0.05)
        if near and same_scale:
            return previous
    if s >= 1.0:
        return FlowWindow(region, None)
    rx1, ry1, rx2, ry2 = region
    return FlowWindow(region, (max(16, int(round((rx2 - rx1) * s))), max(16, int(round((ry2 - ry1) * s)))))


def window_image(grey: GreyFrame, window: FlowWindow) -> Gray:
    """What flow reads of `grey` through `window` (converted now if it was not)."""
    return grey.region(window.region) if window.size is None else grey.scaled(window.region, window.size)


# Pyramidal Lucas-Kanade: 21 px windows over 3 levels above the image follow ~40 px per frame at flow scale.
_LK_WINDOW = (21, 21)
_LK_LEVELS = 3
_LK_CRITERIA = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 30, 0.01)
_BACK_LEVELS = 1  # the backward check starts near its answer (see below): two levels are plenty


def flow_similarity(
    prev: GreyFrame, curr: GreyFrame, box: Box, config: FlowSettings, window: FlowWindow | None = None
) -> F64 | None:
    """The 2x3 similarity transform that moved the content of `box` from `prev` to `curr`, or None.

    `window`: where to look (flow_window; by default the one `box` asks for)."""
    window = window or flow_window(box, prev.shape)
    if window is None:
        return None
    x1, y1, x2, y2 = box
    bw, bh = x2 - x1, y2 - y1
    rx1, ry1, _, _ = window.region
    s = window.scale
    p_roi, c_roi = window_image(prev, window), window_image(curr, window)
    ix1, iy1 = max(0, int((x1 + 0.15 * bw - rx1) * s)), max(0, int((y1 + 0.1 * bh - ry1) * s))
    ix2, iy2 = max(0, int((x2 - 0.15 * bw - rx1) * s)), max(0, int((y2 - 0.1 * bh - ry1) * s))
    if ix2 - ix1 < 8 or iy2 - iy1 < 8:
        return None
    # Fresh features on every frame, from the inner box only (less background), looked for in that box alone
    # (far cheaper than masking the whole search area). Tracking last frame's features on instead saves the
    # corner search but follows a moving face less closely (measured: ~0.15 px more error).
    pts = cv2.goodFeaturesToTrack(p_roi[iy1:iy2, ix1:ix2], config.max_features, 0.01, max(3.0, bw * s / 25))
    if pts is None or len(pts) < config.min_inliers:
        return None
    pts = (pts + np.array([ix1, iy1], dtype=np.float32)).astype(np.float32)
    nxt, st, _ = cv2.calcOpticalFlowPyrLK(  # type: ignore[call-overload]
        p_roi, c_roi, pts, None, winSize=_LK_WINDOW, maxLevel=_LK_LEVELS, criteria=_LK_CRITERIA)
    tracked = st.ravel() == 1
    if int(tracked.sum()) < config.min_inliers:
        return None
    # Forward-backward check: each point is tracked back on its own, from where the face's common motion
    # (the median flow) puts it back rather than from where it now is. That start spares the backward pass
    # the coarse pyramid levels a search from scratch needs to cover the motion (half the check's cost),
    # and it is not the forward answer: a point the forward pass got wrong still returns away from where it
    # started, as it would from scratch.
    shift = np.median((nxt - pts).reshape(-1, 2)[tracked], axis=0).astype(np.float32)
    back, st2, _ = cv2.calcOpticalFlowPyrLK(c_roi, p_roi, nxt, nxt - shift, winSize=_LK_WINDOW,
                                            maxLevel=_BACK_LEVELS, criteria=_LK_CRITERIA,
                                            flags=cv2.OPTFLOW_USE_INITIAL_FLOW)
    fb = np.linalg.norm((pts - back).reshape(-1, 2), axis=1)
    good = tracked & (st2.ravel() == 1) & (fb < config.fb_max_error)
    if int(good.sum()) < config.min_inliers:
        return None
    src = pts.reshape(-1, 2)[good] / s + (rx1, ry1)
    dst = nxt.reshape(-1, 2)[good] / s + (rx1, ry1)
    matrix, inliers = cv2.estimateAffinePartial2D(src, dst, method=cv2.RANSAC, ransacReprojThreshold=1.5 / s)
    if matrix is None or inliers is None or int(inliers.sum()) < config.min_inliers:
        return None
    scale = float(np.hypot(matrix[0, 0], matrix[1, 0]))
    if not 0.75 < scale < 1.33:
        return None
    return np.asarray(matrix, dtype=np.float64)
