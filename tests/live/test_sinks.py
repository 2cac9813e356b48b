"""Virtual camera through a fake pyvirtualcam backend; the no-device path; the recorder."""

from __future__ import annotations

import time
from pathlib import Path

import cv2
import numpy as np
import pytest
import pyvirtualcam
from pyvirtualcam import camera as pvc_camera

from app.core.types import Frame
from app.live.capture import SyntheticCamera
from app.live.events import Ended, Notice, SinkState
from app.live.runtime import LiveSession
from app.live.sinks import CallbackSink, RecorderSink, SinkUnavailable, VirtualCameraSink
from tests.live.fakes import FakeVirtualCamera, SlowEngine


def blue(i: int) -> Frame:
    frame = np.zeros((48, 64, 3), np.uint8)
    frame[:] = (255, 0, 0)  # BGR blue
    return frame


def test_virtual_camera_receives_rgb_frames_of_the_output_size(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pvc_camera, "BACKENDS", dict(pvc_camera.BACKENDS))
    pyvirtualcam.register_backend("dlc-fake", FakeVirtualCamera)  # registered as a user of the library would
    FakeVirtualCamera.instances.clear()
    session = LiveSession(
        SlowEngine(0.01),
        SyntheticCamera(64, 48, 30.0, frames=10, make=blue),
        sinks=[VirtualCameraSink(backend="dlc-fake")],
    )
    session.start()
    assert session.wait(3.0) and session.error is None and session.stop()
    (backend,) = FakeVirtualCamera.instances
    assert (backend.width, backend.height, backend.fps) == (64, 48, 30.0) and backend.closed
    assert len(backend.frames) >= 5
    rgb = backend.frames[-1].reshape(48, 64, 3)
    assert tuple(rgb[10, 10]) == (0, 0, 255)  # RGB order: the blue BGR frame arrives as blue RGB


def test_without_a_virtual_camera_the_session_goes_on(no_virtual_camera: None) -> None:
    seen: list[Frame] = []
    session = LiveSession(
        SlowEngine(0.01),
        SyntheticCamera(64, 48, 30.0, frames=10, make=blue),
        sinks=[VirtualCameraSink(), CallbackSink(seen.append)],
    )
    session.start()
    assert session.wait(3.0) and session.error is None and session.stop()
    events = session.events.drain()
    notices = [e.text for e in events if isinstance(e, Notice)]
    states = [e for e in events if isinstance(e, SinkState)]
    assert len(notices) == 1 and [(e.sink, e.state) for e in states] == [("virtual camera", "unavailable")]
    assert isinstance(events[-1], Ended) and events[-1].reason == "end of input"
    message = notices[0]
    assert "no virtual camera" in message and "device not found" in message
    assert any(name in message for name in ("v4l2loopback", "OBS", "Unity Capture"))
    assert len(seen) >= 5  # the preview went on
    with pytest.raises(SinkUnavailable):
        VirtualCameraSink().open((64, 48), 30.0)


def test_recorder_keeps_wall_clock_time_and_finalises(tmp_path: Path) -> None:
    out = tmp_path / "rec.mp4"
    sink = RecorderSink(out)
    sink.open((64, 48), 30.0)
    for _ in range(5):  # five frames over ~0.5 s at 10 fps -> ~15 frames at 30 fps
        sink.send(blue(0))
        time.sleep(0.1)
    # While recording, the frames go to a temporary name in the same folder; the final name appears on close.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rec.part.mp4"] and sink.part == tmp_path / "rec.part.mp4"
    sink.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rec.mp4"]
    cap = cv2.VideoCapture(str(out))
    n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    cap.release()
    assert 10 <= n <= 20 and n == sink.frames_written


def test_an_unfinished_recording_never_has_the_final_name(tmp_path: Path) -> None:
    out = tmp_path / "rec.mp4"
    out.write_bytes(b"an earlier recording")
    sink = RecorderSink(out)
    sink.open((64, 48), 30.0)
    sink.send(blue(0))
    # a crash here: the earlier file is untouched, the broken one is only the .part file
    assert out.read_bytes() == b"an earlier recording" and sink.part.is_file()
    sink.close()


def test_a_recording_without_frames_leaves_nothing(tmp_path: Path) -> None:
    sink = RecorderSink(tmp_path / "rec.mp4")
    sink.open((64, 48), 30.0)
    sink.close()
    assert list(tmp_path.iterdir()) == []
