"""The virtual camera toggle: a fake pyvirtualcam backend receives frames; with no device the message shows
and live goes on."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

pyvirtualcam = pytest.importorskip("pyvirtualcam")
from pyvirtualcam import camera as pvc_camera  # noqa: E402


class FakeBackend:
    instances: list[FakeBackend] = []

    def __init__(self, *, width: int, height: int, fps: float, fourcc: int, device: str | None, **kw: Any) -> None:
        self.width, self.height, self.fps, self.fourcc = width, height, fps, fourcc
        self.frames = 0
        self.last: np.ndarray | None = None
        self.closed = False
        FakeBackend.instances.append(self)

    def send(self, frame: np.ndarray) -> None:
        self.frames += 1
        self.last = frame

    def close(self) -> None:
        self.closed = True

    def device(self) -> str:
        return "Fake Camera"

    def native_fourcc(self) -> int | None:
        return self.fourcc


class MissingBackend:
    def __init__(self, **kw: Any) -> None:
        raise RuntimeError("device not found")


def go_live(w: Any, video: Path, qtbot: Any) -> None:
    w.controls.use_camera(str(video))
    w.start_live()
    qtbot.waitUntil(lambda: w.live.state == "live", timeout=20000)


def test_virtual_camera_toggle_sends_frames(make_window: Any, live_models_dir: Path, camera_video: Path,
                                            qtbot: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pvc_camera, "BACKENDS", dict(pvc_camera.BACKENDS))
    pyvirtualcam.register_backend("dlc-gui-fake", FakeBackend)
    FakeBackend.instances.clear()
    w = make_window(live_models_dir, virtual_camera_backend="dlc-gui-fake")
    go_live(w, camera_video, qtbot)

    w.controls.virtual_camera.setChecked(True)  # switched on while live
    qtbot.waitUntil(lambda: bool(FakeBackend.instances) and FakeBackend.instances[0].frames >= 3, timeout=10000)
    qtbot.waitUntil(lambda: "Fake Camera" in w.controls.virtual_camera_state.text(), timeout=5000)
    cam = FakeBackend.instances[0]
    assert (cam.width, cam.height) == (640, 360)

    w.controls.virtual_camera.setChecked(False)
    qtbot.waitUntil(lambda: cam.closed, timeout=5000)
    assert w.controls.virtual_camera_state.text() == "off" and w.live.state == "live"
    w.live.stop()
    qtbot.waitUntil(lambda: w.live.state == "idle", timeout=10000)


def test_without_a_device_the_message_shows_and_live_goes_on(
    make_window: Any, live_models_dir: Path, camera_video: Path, qtbot: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pvc_camera, "BACKENDS", {"missing": MissingBackend})
    w = make_window(live_models_dir, virtual_camera_backend="missing")
    w.controls.virtual_camera.setChecked(True)  # before live: armed
    assert "starts with live" in w.controls.virtual_camera_state.text()
    go_live(w, camera_video, qtbot)
    qtbot.waitUntil(lambda: "no virtual camera" in w.controls.virtual_camera_state.text(), timeout=10000)
    assert w.banner.isVisible() and "no virtual camera" in w.banner.text
    assert not w.controls.virtual_camera.isChecked()
    shown = w.preview.frames_shown
    qtbot.waitUntil(lambda: w.preview.frames_shown > shown + 2, timeout=10000)  # live goes on
    assert w.live.state == "live"
