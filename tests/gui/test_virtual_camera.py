"""The virtual camera toggle: a fake pyvirtualcam backend receives frames; with no device the message shows
and live goes on."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def go_live(w: Any, video: Path, qtbot: Any) -> None:
    w.controls.use_camera(str(video))
    w.start_live()
    qtbot.waitUntil(lambda: w.live.state == "live", timeout=20000)


def test_virtual_camera_toggle_sends_frames(make_window: Any, live_models_dir: Path, camera_video: Path,
                                            qtbot: Any, fake_virtual_camera: Any) -> None:
    w = make_window(live_models_dir, virtual_camera_backend="fake")
    go_live(w, camera_video, qtbot)

    w.controls.virtual_camera.setChecked(True)  # switched on while live
    instances = fake_virtual_camera.instances
    qtbot.waitUntil(lambda: bool(instances) and len(instances[0].frames) >= 3, timeout=10000)
    qtbot.waitUntil(lambda: "Fake Camera" in w.controls.virtual_camera_state.text(), timeout=5000)
    cam = instances[0]
    assert (cam.width, cam.height) == (640, 360)

    w.controls.virtual_camera.setChecked(False)
    qtbot.waitUntil(lambda: cam.closed, timeout=5000)
    assert w.controls.virtual_camera_state.text() == "off" and w.live.state == "live"
    w.live.stop()
    qtbot.waitUntil(lambda: w.live.state == "idle", timeout=10000)


def test_without_a_device_the_message_shows_and_live_goes_on(
    make_window: Any, live_models_dir: Path, camera_video: Path, qtbot: Any, no_virtual_camera: None
) -> None:
    w = make_window(live_models_dir, virtual_camera_backend="v4l2loopback")
    w.controls.virtual_camera.setChecked(True)  # before live: armed
    assert "starts with live" in w.controls.virtual_camera_state.text()
    go_live(w, camera_video, qtbot)
    qtbot.waitUntil(lambda: "no virtual camera" in w.controls.virtual_camera_state.text(), timeout=10000)
    assert w.banner.isVisible() and "no virtual camera" in w.banner.text
    assert not w.controls.virtual_camera.isChecked()
    shown = w.preview.frames_shown
    qtbot.waitUntil(lambda: w.preview.frames_shown > shown + 2, timeout=10000)  # live goes on
    assert w.live.state == "live"
