"""Live with a video file as the camera: the preview updates, statistics appear, a settings change reaches the
worker while running, Stop joins the threads, closing the window mid-session leaves no thread behind."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt

from app.core.options import SwapOptions
from tests.gui.conftest import live_threads, record_swap_options


def start_live(w: Any, video: Path, photo: Path, qtbot: Any) -> None:
    task = w.source.load(str(photo))
    qtbot.waitUntil(task.done, timeout=30000)
    assert w.source.source is not None
    w.controls.mirror.setChecked(False)  # the stand-in detector knows the scene unmirrored
    w.controls.use_camera(str(video))
    qtbot.keyClick(w, Qt.Key.Key_Space)  # Start (Space)
    qtbot.waitUntil(lambda: w.live.state == "live", timeout=20000)


def test_live_preview_stats_settings_and_stop(make_window: Any, live_models_dir: Path, camera_video: Path,
                                              live_source_photo: Path, qtbot: Any) -> None:
    w = make_window(live_models_dir)
    seen: list[SwapOptions] = record_swap_options(w.engines.engine)
    start_live(w, camera_video, live_source_photo, qtbot)
    assert w.controls.start_button.text() == "Stop live"

    qtbot.waitUntil(lambda: w.preview.frames_shown >= 3 and len(seen) >= 2, timeout=20000)
    image = w.preview.current
    assert image is not None and w.preview.source_size == (640, 360)
    rect = w.preview.image_rect()  # converted at the size it is shown at, aspect kept
    assert (image.width, image.height) == (rect.width(), rect.height())
    assert abs(rect.width() / rect.height() - 640 / 360) < 0.01
    qtbot.waitUntil(lambda: w.stats.last is not None and w.stats.last.output_fps > 0, timeout=10000)
    assert "fps" in w.stats.value("output") and w.stats.value("camera") != "\u2014"
    assert "ms" in w.stats.value("latency")

    w.controls.blend.set_value(30)  # while running
    qtbot.waitUntil(lambda: any(o.blend == 0.3 for o in seen), timeout=10000)
    assert w.live.session is not None and w.live.session.options.blend == 0.3
    session = w.live.session

    qtbot.keyClick(w, Qt.Key.Key_Space)  # Stop
    qtbot.waitUntil(lambda: w.live.state == "idle", timeout=10000)
    assert not any(t.is_alive() for t in session.threads())
    assert w.controls.start_button.text() == "Start live"


def test_closing_mid_session_leaves_no_thread(make_window: Any, live_models_dir: Path, camera_video: Path,
                                              live_source_photo: Path, qtbot: Any) -> None:
    w = make_window(live_models_dir)
    start_live(w, camera_video, live_source_photo, qtbot)
    qtbot.waitUntil(lambda: w.preview.frames_shown >= 1, timeout=20000)
    w.close()
    assert live_threads() == []


def test_a_camera_that_cannot_open_is_a_message(make_window: Any, live_models_dir: Path, tmp_path: Path,
                                                qtbot: Any) -> None:
    w = make_window(live_models_dir)
    w.controls.use_camera(str(tmp_path / "missing.mp4"))
    w.start_live()
    qtbot.waitUntil(lambda: w.live.state == "idle" and w.banner.isVisible(), timeout=10000)
    assert w.banner.level == "error" and "not found" in w.banner.text


def test_fluid_render_chosen_in_the_window_reaches_the_session_and_the_statistics(
        make_window: Any, live_models_dir: Path, camera_video: Path, live_source_photo: Path, qtbot: Any) -> None:
    """The Rendering group's control sets the session's render; the statistics say it, how often the face is
    updated and how old the shown one is."""
    w = make_window(live_models_dir)
    render = w.controls.option_controls.combo_box("render")
    render.setCurrentIndex(render.findData("fluid"))
    blur = w.controls.option_controls.combo_box("until_swapped")
    blur.setCurrentIndex(blur.findData("blur"))
    start_live(w, camera_video, live_source_photo, qtbot)
    assert w.live.session is not None and w.live.session.options.render == "fluid"
    assert w.live.session.options.until_swapped == "blur"
    qtbot.waitUntil(lambda: w.stats.last is not None and w.stats.last.render == "fluid"
                    and w.stats.last.face_age_ms is not None, timeout=20000)
    assert w.stats.value("output").endswith("(fluid)")
    face = w.stats.value("face")
    assert face.startswith("updated ") and "times a second" in face and " s old" in face
    assert w.store.option_values()["render"] == "fluid"  # remembered for the next run
