"""GUI test fixtures: a qasync loop marked running (so slots can await while qtbot spins Qt's loop), windows
with isolated settings, stand-in model folders, and video files that stand in for a camera."""

from __future__ import annotations

import asyncio
import threading
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from PySide6.QtCore import QMimeData, QPoint, QPointF, QSettings, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication, QWidget

from tests.standins import TrackingScene, photos


@pytest.fixture
def qloop(qapp: QApplication) -> Iterator[asyncio.AbstractEventLoop]:
    import qasync

    loop = qasync.QEventLoop(qapp, already_running=True)
    asyncio.set_event_loop(loop)
    try:
        yield loop
    finally:
        asyncio.events._set_running_loop(None)
        loop._QEventLoop__is_running = False  # type: ignore[attr-defined] # qasync: not run by run_forever
        loop.close()
        asyncio.set_event_loop(None)


def live_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("dlc-") and t.is_alive()]


@pytest.fixture
def make_window(qtbot: Any, qloop: asyncio.AbstractEventLoop, tmp_path: Path) -> Iterator[Callable[..., Any]]:
    from app.gui.main_window import MainWindow

    made: list[MainWindow] = []

    def make(models_dir: Path, ini: Path | None = None, **kw: Any) -> MainWindow:
        settings = QSettings(str(ini or tmp_path / "settings.ini"), QSettings.Format.IniFormat)
        kw.setdefault("check_models", False)
        kw.setdefault("list_cameras_on_start", False)
        window = MainWindow(models_dir, settings=settings, **kw)
        qtbot.addWidget(window)
        window.resize(1280, 800)
        window.show()
        made.append(window)
        return window

    yield make
    for w in made:
        if w.isVisible():
            w.close()


def save_png(path: Path, image: np.ndarray) -> Path:
    assert cv2.imwrite(str(path), image)
    return path


@pytest.fixture(scope="session")
def live_models_dir(standin_models_dir: Path, standin_tracking: TrackingScene,
                    tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Stand-in swap models with the content-following detector, for video frames panning over t1."""
    root = tmp_path_factory.mktemp("live_models")
    (root / "buffalo_l").mkdir()
    for rel in ("inswapper_128.onnx", "buffalo_l/w600k_r50.onnx", "GFPGANv1.4.onnx"):
        (root / rel).symlink_to(standin_models_dir / rel)
    (root / "buffalo_l" / "det_10g.onnx").symlink_to(standin_tracking.detector)
    return root


@pytest.fixture(scope="session")
def live_source_photo(standin_tracking: TrackingScene, tmp_path_factory: pytest.TempPathFactory) -> Path:
    frame, _ = standin_tracking.frame(0, 0)
    return save_png(tmp_path_factory.mktemp("live_src") / "group.png", frame)


def write_video(path: Path, scene: TrackingScene, frames: int, fps: float = 30.0) -> Path:
    """Frames panning slowly over t1 (MJPG), the stand-in for a webcam."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), fps, scene.frame_size)
    assert writer.isOpened()
    for i in range(frames):
        frame, _ = scene.frame(int(8 * np.sin(i / 10.0)), 0)
        writer.write(frame)
    writer.release()
    return path


@pytest.fixture(scope="session")
def camera_video(standin_tracking: TrackingScene, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_video(tmp_path_factory.mktemp("video") / "camera.avi", standin_tracking, 240)


@pytest.fixture(scope="session")
def photo_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("photos")
    blank = np.full((240, 320, 3), 90, np.uint8)
    return {
        "t1": save_png(root / "t1.png", photos.t1().image),
        "astronaut": save_png(root / "astronaut.png", photos.astronaut().image),
        "blank": save_png(root / "blank.png", blank),
    }


def drop_files(widget: QWidget, paths: list[Path]) -> bool:
    """A real drag-enter and drop with file URLs, as a file manager sends them; True when accepted."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    centre = widget.rect().center()
    with warnings.catch_warnings():  # PySide marks the QPoint constructor deprecated; Qt has no other
        warnings.simplefilter("ignore", DeprecationWarning)
        enter = QDragEnterEvent(QPoint(centre), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                                Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, enter)
    if not enter.isAccepted():
        return False
    drop = QDropEvent(QPointF(centre), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                      Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, drop)
    return drop.isAccepted()


def record_swap_options(engine: Any) -> list[Any]:
    """Wrap `engine.swap` so each call's options are kept (what the worker really used); returns that list."""
    seen: list[Any] = []
    real_swap = engine.swap

    def recording_swap(frame: Any, source: Any, faces: Any, options: Any) -> Any:
        seen.append(options)
        return real_swap(frame, source, faces, options)

    engine.swap = recording_swap
    return seen
