"""The window builds; a dropped source photo is loaded with its faces boxed; a click picks the source face;
no face is said in place; settings persist; a first start without models opens the model dialog."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QPoint, Qt

from app.gui.settings import CameraChoice
from tests.gui.conftest import drop_files


def test_window_builds_with_every_part(make_window: Any, standin_models_dir: Path) -> None:
    w = make_window(standin_models_dir)
    assert w.tabs.count() == 2 and w.tabs.tabText(0) == "Live" and w.tabs.tabText(1) == "Photos"
    c = w.controls
    assert c.camera.findData("__video_file__") >= 0
    assert [c.faces.itemData(i) for i in range(c.faces.count())] == ["all", "largest"]
    assert c.start_button.text() == "Start live" and not c.restore_strength.isEnabled()
    assert w.options().blend == 0.8 and w.models_dialog is None


def test_dropped_photo_is_loaded_and_a_click_picks_the_face(
    make_window: Any, standin_models_dir: Path, photo_files: dict[str, Path], qtbot: Any
) -> None:
    w = make_window(standin_models_dir)
    view = w.source_panel.view
    with qtbot.waitSignal(w.source.source_changed, timeout=20000):
        assert drop_files(w.source_panel, [photo_files["t1"]])
    assert len(view.faces) == 6 and w.source.source is not None
    first = w.source.selected
    assert first == max(range(6), key=lambda i: view.faces[i].area)  # the largest face by default
    assert "6 faces" in w.source_panel.message.text()

    other = (first + 1) % 6
    rect = view.face_rect(other)
    with qtbot.waitSignal(w.source.source_changed, timeout=20000) as blocker:
        qtbot.mouseClick(view, Qt.MouseButton.LeftButton, pos=QPoint(int(rect.center().x()), int(rect.center().y())))
    assert w.source.selected == other and view.selected == other
    assert blocker.args[0] is w.source.source
    assert abs(w.source.source.face.box[0] - view.faces[other].box[0]) < 1e-3


def test_no_face_is_said_in_place(make_window: Any, standin_models_dir: Path, photo_files: dict[str, Path],
                                  qtbot: Any) -> None:
    w = make_window(standin_models_dir)
    task = w.source.load(str(photo_files["blank"]))
    qtbot.waitUntil(task.done, timeout=20000)
    assert "No face found" in w.source_panel.message.text()
    assert w.source.source is None and w.source_panel.view.faces == []


def test_a_broken_photo_is_a_message_not_a_crash(make_window: Any, standin_models_dir: Path, tmp_path: Path,
                                                 qtbot: Any) -> None:
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image")
    w = make_window(standin_models_dir)
    task = w.source.load(str(bad))
    qtbot.waitUntil(task.done, timeout=20000)
    assert w.banner.isVisible() and w.banner.level == "error" and "bad.png" in w.banner.text


def test_settings_persist_between_runs(make_window: Any, standin_models_dir: Path, photo_files: dict[str, Path],
                                       tmp_path: Path, qtbot: Any) -> None:
    ini = tmp_path / "persist.ini"
    w = make_window(standin_models_dir, ini)
    task = w.source.load(str(photo_files["astronaut"]))
    qtbot.waitUntil(task.done, timeout=20000)
    w.controls.blend.set_value(35)
    w.controls.faces.setCurrentIndex(1)
    w.controls.restore.setChecked(True)
    w.controls.set_camera_choice(CameraChoice("clip.mp4", 640, 480, 24, False))
    w.close()

    again = make_window(standin_models_dir, ini)
    o = again.options()
    assert (o.blend, o.faces, o.restore is not None) == (0.35, "largest", True)
    qtbot.waitUntil(lambda: again.live._options.restore is not None, timeout=20000)  # once its model loaded
    choice = again.controls.camera_choice()
    assert (choice.width, choice.height, choice.fps, choice.mirror) == (640, 480, 24, False)
    assert again.store.source_path() == str(photo_files["astronaut"])
    qtbot.waitUntil(lambda: again.source.source is not None, timeout=20000)  # loaded again from that file
    assert again.source.path == str(photo_files["astronaut"]) and len(again.source.faces) == 1


def test_first_start_without_models_opens_the_dialog(make_window: Any, tmp_path: Path, qtbot: Any) -> None:
    w = make_window(tmp_path / "empty_models", check_models=True)
    qtbot.waitUntil(lambda: w.models_dialog is not None and w.models_dialog.isVisible(), timeout=5000)
    d = w.models_dialog
    assert d.intro.isVisible() and "needs its model files" in d.intro.text()
    assert d.status_text("inswapper") == "missing" and d.download_button.isEnabled()
    assert w.banner.level == "warning" and "missing" in w.banner.text


def test_a_start_without_onnxruntime_says_what_to_install(make_window: Any, standin_models_dir: Path, qtbot: Any,
                                                          monkeypatch: Any) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # `import onnxruntime` fails, as if never installed
    w = make_window(standin_models_dir, check_models=True)
    qtbot.waitUntil(lambda: w.banner.isVisible() and w.banner.level == "error", timeout=5000)
    # the message left showing, after the model check's own (the stand-ins are not the manifest's files)
    assert 'pip install "deep-live-cam[cpu]"' in w.banner.text and "[gpu]" in w.banner.text


def test_statistics_show_every_stage_that_adds_up_to_the_total(make_window: Any, standin_models_dir: Path) -> None:
    from app.live.stats import StatsSnapshot

    w = make_window(standin_models_dir)
    stages = {"track": 1.2, "detect": 20.0, "swap": 700.0, "paste": 3.0, "restore": 0.0, "total": 724.2}
    w.stats.show_stats(StatsSnapshot(camera_fps=30.0, output_fps=1.4, stage_ms=stages))
    assert w.stats.value("stages").splitlines() == ["track 1 ms", "detect 20 ms", "swap 700 ms", "paste 3 ms",
                                                    "total 724 ms"]
    assert w.stats.value("face") == "\u2014"  # nothing said of faces before a render is known
    w.stats.show_stats(StatsSnapshot(camera_fps=30.0, output_fps=29.5, render="fluid", face_fps=0.4,
                                     face_age_ms=1900.0, swap_ms_per_face=2312.0, faces_waiting=1))
    assert w.stats.value("output") == "29.5 fps (fluid)"
    assert w.stats.value("face").splitlines() == ["updated 0.4 times a second", "shown 1.9 s old",
                                                  "swap 2312 ms a face", "1 waiting for a first swap"]
