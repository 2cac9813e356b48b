"""Optical flow on grey levels converted only where it looks: the same grey levels as converting the whole
frame, a window that stays while a face moves a little, known motions recovered on real photo content, and a
tracker that no longer reads a frame after update() returned (unless a background detector has it)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from app.core.flow import GreyFrame, flow_similarity, flow_window, window_image
from app.core.tracker import Tracker, TrackerConfig
from tests.live.scene import JitterDetector, Scene, load_t1, still_then_moving
from tests.standins import photos


def test_grey_regions_equal_the_whole_frame_converted() -> None:
    frame = photos.t1().image
    whole = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
    grey = GreyFrame(frame)
    regions = [(100, 50, 400, 300), (130, 70, 420, 310), (90, 40, 380, 290), (120, 60, 200, 100), (0, 0, 50, 50)]
    for region in regions:  # overlapping, shifted both ways, inside one another, apart
        x1, y1, x2, y2 = region
        assert np.array_equal(grey.region(region), whole[y1:y2, x1:x2])
    for region in regions:  # and still right once all of them were converted
        x1, y1, x2, y2 = region
        assert np.array_equal(grey.region(region), whole[y1:y2, x1:x2])
    size = (137, 121)
    scaled = grey.scaled((100, 50, 400, 300), size)
    assert np.array_equal(scaled, cv2.resize(whole[50:300, 100:400], size, interpolation=cv2.INTER_LINEAR))
    assert grey.scaled((100, 50, 400, 300), size) is scaled  # kept for the next frame's flow


def test_released_frame_keeps_what_was_converted_and_refuses_the_rest() -> None:
    frame = photos.astronaut().image
    grey = GreyFrame(frame)
    kept = grey.region((10, 10, 200, 200)).copy()
    grey.release()
    assert np.array_equal(grey.region((20, 20, 100, 100)), kept[10:90, 10:90])
    with pytest.raises(RuntimeError, match="released"):
        grey.region((300, 300, 400, 400))
    many = GreyFrame(frame)
    for i in range(20):  # past the bookkeeping limit the frame is converted whole, once
        many.region((i * 10, i * 10, i * 10 + 30, i * 10 + 30))
    assert np.array_equal(many.whole(), cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY))


def test_window_stays_while_the_face_moves_a_little() -> None:
    box = (400.0, 200.0, 720.0, 570.0)  # a close-up at 1080p: downscaled
    window = flow_window(box, (1080, 1920))
    assert window is not None and window.size is not None and 0.4 < window.scale < 0.5
    moved = (box[0] + 6, box[1] - 5, box[2] + 6, box[3] - 5)
    assert flow_window(moved, (1080, 1920), window) is window
    far = (box[0] + 60, box[1], box[2] + 60, box[3])
    assert flow_window(far, (1080, 1920), window) != window
    bigger = (box[0] - 20, box[1] - 20, box[2] + 20, box[3] + 20)  # scale changes by more than 5%
    assert flow_window(bigger, (1080, 1920), window) != window
    assert flow_window(box, (720, 1280), window) != window  # a smaller frame (the camera changed mode)
    small = flow_window((100.0, 100.0, 180.0, 190.0), (720, 1280))
    assert small is not None and small.size is None and small.scale == 1.0


@pytest.mark.parametrize("zoom", [1.0, 3.0], ids=["full-size", "downscaled-close-up"])
def test_flow_recovers_a_known_similarity(zoom: float) -> None:
    """t1 (zoomed so a face is ~320 px and flow runs downscaled) moved by a small rotation, scale and shift:
    the face's points land within a tenth of a pixel of where the motion took them."""
    scene = photos.t1()
    image = np.ascontiguousarray(cv2.resize(scene.image, None, fx=zoom, fy=zoom)[: int(560 * zoom)])
    face = next(f for f in scene.faces if f.name == "ross")
    points = face.points.astype(np.float64) * zoom
    box = tuple(float(v) * zoom for v in face.box)
    centre = points.mean(axis=0)
    motion = cv2.getRotationMatrix2D((float(centre[0]), float(centre[1])), 2.0, 1.02)
    motion[:, 2] += (3.4 * zoom, -2.1 * zoom)
    moved = cv2.warpAffine(image, motion, (image.shape[1], image.shape[0]), flags=cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_REFLECT)
    found = flow_similarity(GreyFrame(image), GreyFrame(moved), box, TrackerConfig())  # type: ignore[arg-type]
    assert found is not None
    expected = points @ motion[:, :2].T + motion[:, 2]
    got = points @ found[:, :2].T + found[:, 2]
    assert np.abs(got - expected).max() < 0.1 * zoom


def test_flow_follows_the_face_past_an_occluding_bar() -> None:
    """A bar of other content that does not move covers the middle quarter of the face: the forward-backward
    check and RANSAC keep flow on the face, which moves under it. (A third of the face gives the bar most
    of the corners, and flow follows the bar then, as it did before these checks were made cheaper.)"""
    image = load_t1()
    face = next(f for f in photos.t1().faces if f.name == "ross")
    x1, y1, x2, y2 = (int(v) for v in face.box)
    shift = np.array([[1.0, 0.0, 4.0], [0.0, 1.0, 1.5]])
    moved = cv2.warpAffine(image, shift, (image.shape[1], image.shape[0]), borderMode=cv2.BORDER_REFLECT)
    half, centre = (x2 - x1) // 8, (x1 + x2) // 2
    bar = (slice(y1, y2), slice(centre - half, centre + half))
    before, after = image.copy(), moved.copy()
    before[bar] = after[bar] = image[y1 + 150 : y2 + 150, centre - half + 300 : centre + half + 300]
    found = flow_similarity(GreyFrame(before), GreyFrame(after), face.box, TrackerConfig())
    assert found is not None
    assert np.abs(face.points @ found[:, :2].T + found[:, 2] - (face.points + [4.0, 1.5])).max() < 0.5


def test_tracker_does_not_read_a_frame_after_update() -> None:
    """Synchronous detection: wiping every frame right after update() (as an in-place paste would) changes
    nothing the tracker returns, because what the next flow needs was converted before update() returned."""
    scene = Scene(load_t1(), still_then_moving(5, 25, 4.0, 190.0))

    def run(wipe: bool) -> list[np.ndarray]:
        tracker = Tracker(TrackerConfig(detect_every=5))
        detector = JitterDetector(scene, sigma=1.0, seed=2)
        out = []
        for i in range(len(scene.offsets)):
            detector.index = i
            frame = scene.frame(i)
            faces = tracker.update(frame, i / 30.0, detector, "all")
            if wipe:
                frame[:] = 0
            out.append(np.array([f.points for f in faces]))
        return out

    clean, wiped = run(False), run(True)
    assert all(np.array_equal(a, b) for a, b in zip(clean, wiped, strict=True))
    assert len(clean[-1]) == 5


def test_window_image_is_what_flow_reads() -> None:
    frame = photos.t1().image
    box = (465.0, 278.0, 572.0, 402.0)
    window = flow_window(box, frame.shape[:2])
    assert window is not None
    x1, y1, x2, y2 = window.region
    assert np.array_equal(window_image(GreyFrame(frame), window), cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)[y1:y2, x1:x2])
