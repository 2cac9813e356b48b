"""Face restoration in the window: the restorer is loaded off the UI thread, on a thread of its own, before any
option with restoration reaches the live session; without a usable restorer Restore is unticked, the reason
shown, and live goes on; a Restore saved as on is checked the same way at start-up."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QSettings

from app.core.engine import Engine
from tests.gui.conftest import record_swap_options


@pytest.fixture(scope="session")
def no_restorer_models_dir(live_models_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The live stand-in models without any GFPGAN file."""
    root = tmp_path_factory.mktemp("no_restorer")
    (root / "buffalo_l").mkdir()
    for rel in ("inswapper_128.onnx", "buffalo_l/w600k_r50.onnx", "buffalo_l/det_10g.onnx"):
        (root / rel).symlink_to((live_models_dir / rel).resolve())
    return root


def go_live(w: Any, video: Path, photo: Path, qtbot: Any) -> None:
    task = w.source.load(str(photo))
    qtbot.waitUntil(task.done, timeout=20000)
    w.controls.mirror.setChecked(False)  # the stand-in detector knows the scene unmirrored
    w.controls.use_camera(str(video))
    w.start_live()
    qtbot.waitUntil(lambda: w.live.state == "live", timeout=20000)


def test_restore_without_a_restorer_is_unticked_and_live_goes_on(
    make_window: Any, no_restorer_models_dir: Path, camera_video: Path, live_source_photo: Path, qtbot: Any
) -> None:
    w = make_window(no_restorer_models_dir)
    seen = record_swap_options(w.engines.engine)
    go_live(w, camera_video, live_source_photo, qtbot)
    w.controls.restore.setChecked(True)
    assert w.live._options.restore is None  # not handed over before the restorer is loaded
    qtbot.waitUntil(lambda: not w.controls.restore.isChecked(), timeout=10000)
    assert w.banner.isVisible() and w.banner.level == "warning"
    assert "Face restoration is off" in w.banner.text and "GFPGANv1.4" in w.banner.text
    assert w.controls.restore.text() == "On"
    shown = w.preview.frames_shown
    qtbot.waitUntil(lambda: w.preview.frames_shown > shown + 2, timeout=10000)  # live goes on
    assert w.live.state == "live" and w.live.session is not None and w.live.session.error is None
    assert seen and all(o.restore is None for o in seen)
    assert w.store.options().restore is None  # unticked is what is remembered


def test_restorer_loads_on_its_own_thread_and_is_used_once_loaded(
    make_window: Any, live_models_dir: Path, camera_video: Path, live_source_photo: Path, qtbot: Any,
    monkeypatch: pytest.MonkeyPatch
) -> None:
    release = threading.Event()
    threads: list[str] = []
    real_prepare = Engine.prepare_restorer

    def slow_prepare(engine: Engine) -> None:  # a .pth conversion, minutes long
        threads.append(threading.current_thread().name)
        release.wait(20)
        real_prepare(engine)

    monkeypatch.setattr(Engine, "prepare_restorer", slow_prepare)
    w = make_window(live_models_dir)
    w.controls.restore.setChecked(True)
    qtbot.waitUntil(lambda: bool(threads), timeout=5000)
    assert threads == ["dlc-gui-long"] and w.restore_gate.preparing
    assert "Preparing face restoration" in w.banner.text and "preparing" in w.controls.restore.text()
    # Meanwhile source photos load and live starts: the short pool is free.
    go_live(w, camera_video, live_source_photo, qtbot)
    assert w.live.session is not None and w.live.session.options.restore is None
    assert not w.engines.engine.restorer_ready()

    release.set()
    qtbot.waitUntil(lambda: w.live.session is not None and w.live.session.options.restore is not None,
                    timeout=20000)
    assert w.engines.engine.restorer_ready() and w.controls.restore.isChecked()
    assert w.controls.restore.text() == "On" and "ready" in w.statusBar().currentMessage()


def test_restore_saved_as_on_is_checked_at_start_up(make_window: Any, no_restorer_models_dir: Path,
                                                     tmp_path: Path, qtbot: Any) -> None:
    ini = tmp_path / "restore_on.ini"
    settings = QSettings(str(ini), QSettings.Format.IniFormat)
    settings.setValue("options/restore", True)
    settings.sync()
    w = make_window(no_restorer_models_dir, ini)
    assert w.live._options.restore is None  # not used before it is loaded
    qtbot.waitUntil(lambda: not w.controls.restore.isChecked(), timeout=10000)
    assert "Face restoration is off" in w.banner.text
    assert w.store.options().restore is None and w.live._options.restore is None
