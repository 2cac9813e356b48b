"""`deep-live-cam live` end to end: a video file as the camera, stand-in models, headless, recording."""

from __future__ import annotations

import shutil

import cv2
import numpy as np
import pytest

from app.cli import main

PAN = [(2 * i, 0) for i in range(45)]  # 1.5 s at 30 fps, panning 2 px per frame


@pytest.fixture(scope="module")
def live_setup(tmp_path_factory, standin_models_dir, standin_tracking):
    root = tmp_path_factory.mktemp("live")
    models = root / "models"
    shutil.copytree(standin_models_dir, models)
    shutil.copy(standin_tracking.detector, models / "buffalo_l" / "det_10g.onnx")
    video = root / "camera.mp4"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter.fourcc(*"mp4v"), 30.0, standin_tracking.frame_size)
    frames = []
    for dx, dy in PAN:
        frame, _ = standin_tracking.frame(dx, dy)
        frames.append(frame)
        writer.write(frame)
    writer.release()
    source = root / "source.png"
    cv2.imwrite(str(source), frames[0])
    return {"models": models, "video": video, "source": source, "frames": frames, "scene": standin_tracking}


def test_live_headless_recording_swaps_faces(live_setup, tmp_path, capsys):
    record = tmp_path / "rec.mp4"
    code = main(["live", "--source", str(live_setup["source"]), "--camera", str(live_setup["video"]),
                 "--no-preview", "--record", str(record), "--models-dir", str(live_setup["models"])])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "640x360" in out and "frames out" in out
    recorded = read_all(record)
    assert len(recorded) >= 10
    assert swapped_faces(live_setup, recorded) >= len(recorded[len(recorded) // 3:])  # one in every later frame


def read_all(path):
    cap = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = cap.read()
        if not ok:
            return frames
        frames.append(frame)


def swapped_faces(live_setup, recorded):
    """How many faces in the last two thirds of `recorded` look swapped (far from the camera frame's own)."""
    scene = live_setup["scene"]
    swapped = 0
    for frame in recorded[len(recorded) // 3:]:
        # the camera frame this output came from: the one whose top-left background matches best
        diffs = [np.abs(frame[:40, :].astype(int) - f[:40, :]).mean() for f in live_setup["frames"]]
        i = int(np.argmin(diffs))
        _, faces = scene.frame(*PAN[i])
        original = live_setup["frames"][i]
        for face in faces:
            x0, y0 = face.points.min(axis=0).astype(int)
            x1, y1 = face.points.max(axis=0).astype(int)
            if x0 < 0 or y0 < 0 or x1 > 640 or y1 > 360:
                continue
            if np.abs(frame[y0:y1, x0:x1].astype(int) - original[y0:y1, x0:x1]).mean() > 35:
                swapped += 1
    return swapped


def test_live_fluid_render_records_every_frame_and_feeds_the_virtual_camera(live_setup, fake_virtual_camera,
                                                                             tmp_path, capsys):
    record = tmp_path / "fluid.mp4"
    code = main(["live", "--source", str(live_setup["source"]), "--camera", str(live_setup["video"]),
                 "--no-preview", "--record", str(record), "--virtual-camera", "--render", "fluid",
                 "--until-swapped", "blur", "--models-dir", str(live_setup["models"])])
    out = capsys.readouterr().out
    assert code == 0, out
    done = next(line for line in out.splitlines() if line.startswith("done:"))
    assert "(fluid)" in done and "face updated" in done
    recorded = read_all(record)
    assert len(recorded) >= 0.8 * len(live_setup["frames"])  # every camera frame is rendered (a loaded machine
    # may still drop a few)
    assert swapped_faces(live_setup, recorded) >= len(recorded[len(recorded) // 3:])
    (backend,) = fake_virtual_camera.instances
    # the virtual camera gets every output frame too; the recorder may write a late frame twice to keep its
    # clock with the wall clock (RecorderSink's realtime), so it can hold a frame or two more
    assert 0.8 * len(live_setup["frames"]) <= len(backend.frames) <= len(recorded)


def test_live_virtual_camera_receives_rgb_frames(live_setup, fake_virtual_camera, capsys):
    code = main(["live", "--source", str(live_setup["source"]), "--camera", str(live_setup["video"]),
                 "--no-preview", "--virtual-camera", "--duration", "1", "--models-dir", str(live_setup["models"])])
    assert code == 0, capsys.readouterr().err
    (backend,) = fake_virtual_camera.instances
    assert (backend.width, backend.height) == (640, 360)
    assert backend.frames and backend.frames[-1].size == 640 * 360 * 3


def test_live_without_virtual_camera_device_goes_on(live_setup, no_virtual_camera, capsys):
    code = main(["live", "--source", str(live_setup["source"]), "--camera", str(live_setup["video"]),
                 "--no-preview", "--virtual-camera", "--duration", "0.5", "--models-dir", str(live_setup["models"])])
    captured = capsys.readouterr()
    assert code == 0
    assert "virtual camera" in captured.err and "frames out" in captured.out


def test_missing_camera_gives_the_clear_message(live_setup, capsys):
    code = main(["live", "--source", str(live_setup["source"]), "--camera", "7", "--no-preview",
                 "--models-dir", str(live_setup["models"])])
    err = capsys.readouterr().err
    assert code == 7
    assert "camera 7 could not be opened" in err and "Traceback" not in err


def test_live_missing_models_and_no_face(live_setup, tmp_path, capsys):
    assert main(["live", "--source", str(live_setup["source"]), "--camera", str(live_setup["video"]),
                 "--no-preview", "--models-dir", str(tmp_path)]) == 3
    blank = tmp_path / "blank.png"
    cv2.imwrite(str(blank), np.full((200, 200, 3), 128, np.uint8))
    assert main(["live", "--source", str(blank), "--camera", str(live_setup["video"]), "--no-preview",
                 "--models-dir", str(live_setup["models"])]) == 5
    assert "no face" in capsys.readouterr().err



def test_live_with_a_preview_window(live_setup, tmp_path, capsys):
    """The preview is a real Qt window (offscreen here); it ends with the duration, the recording finalised."""
    record = tmp_path / "rec.mp4"
    code = main(["live", "--source", str(live_setup["source"]), "--camera", str(live_setup["video"]),
                 "--duration", "1.0", "--record", str(record), "--models-dir", str(live_setup["models"])])
    assert code == 0
    assert "frames out" in capsys.readouterr().out
    assert cv2.VideoCapture(str(record)).get(cv2.CAP_PROP_FRAME_COUNT) > 5


def test_closing_the_preview_window_stops_the_session(live_setup, qtbot):
    from PySide6.QtCore import QTimer

    from app.core.engine import Engine
    from app.core.sessions import ModelSet
    from app.gui.preview_window import open_preview_window, run_preview
    from app.live.capture import SyntheticCamera
    from app.live.runtime import LiveSession
    from app.live.sinks import CallbackSink

    engine = Engine(ModelSet(live_setup["models"], ["CPUExecutionProvider"]))
    window = open_preview_window("test")
    frames = live_setup["frames"]
    session = LiveSession(engine, SyntheticCamera(640, 360, 30.0, make=lambda i: frames[i % len(frames)]),
                          face_source=engine.prepare_source(frames[0]), sinks=[CallbackSink(window.deliver)])
    session.start()

    def close_once_shown() -> None:  # the user closes the window after watching a little
        if window.preview.frames_shown > 3 and window.stats.text():
            window.close()

    timer = QTimer()
    timer.timeout.connect(close_once_shown)
    timer.start(50)
    try:
        assert run_preview(session, window, duration=60.0, on_notice=print) == "window closed"  # no hang
    finally:
        timer.stop()
        assert session.stop()
    assert window.preview.frames_shown > 3
    assert window.stats.text().startswith("camera")


def test_the_live_worker_never_loads_the_restorer(live_setup):
    """Restore asked for before the restorer is loaded: frames go out unrestored, the session says so, and
    once a front end has loaded it, restoration runs. The exact render, where the worker itself restores: auto
    would pick fluid on a loaded machine, and there the swapper's thread restores (tests/core/test_fluid.py)."""
    import time

    from app.core.engine import RESTORER_NOT_READY, Engine
    from app.core.options import RestoreOptions, SwapOptions
    from app.core.sessions import ModelSet
    from app.live.capture import SyntheticCamera
    from app.live.events import Notice
    from app.live.runtime import LiveSession

    engine = Engine(ModelSet(live_setup["models"], ["CPUExecutionProvider"]))
    frames = live_setup["frames"]
    camera = SyntheticCamera(640, 360, 30.0, make=lambda i: frames[i % len(frames)])  # endless, like a webcam
    session = LiveSession(engine, camera,
                          options=SwapOptions(restore=RestoreOptions(), render="exact"),
                          face_source=engine.prepare_source(live_setup["frames"][0]))
    session.start()
    try:
        notices: list[str] = []
        deadline = time.monotonic() + 20.0  # a generous bound: a loaded machine may be slow, never wrong
        while not notices and time.monotonic() < deadline:
            notices = [e.text for e in session.events.wait(0.1) if isinstance(e, Notice)]
        assert not engine.restorer_ready()
        assert notices == [RESTORER_NOT_READY.text] and "restoration is not loaded" in notices[0]
        engine.prepare_restorer()  # what the GUI does off its UI thread
        deadline = time.monotonic() + 20.0
        while session.stats().stage_ms.get("restore", 0.0) == 0.0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert session.stats().stage_ms.get("restore", 0.0) > 0.0
    finally:
        assert session.stop()
