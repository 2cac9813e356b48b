"""Screenshots of the GUI from a real offscreen run: docs/screenshots/main_live.png, photos.png, models.png.

Nothing is drawn by hand: the window runs on stand-in models (tests/standins) with a video file as the camera
(frames panning over insightface's t1.jpg), real photos for the Photos tab, and an empty models folder for the
model dialog's first start.

    QT_QPA_PLATFORM=offscreen python scripts/screenshots.py
"""

from __future__ import annotations

import asyncio
import gc
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import cv2  # noqa: E402
import numpy as np  # noqa: E402
from PySide6.QtCore import QSettings  # noqa: E402
from PySide6.QtWidgets import QWidget  # noqa: E402

OUT = ROOT / "docs" / "screenshots"
SIZE = (1440, 880)


async def until(check: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError("the window did not get there in time")
        await asyncio.sleep(0.05)


def save(widget: QWidget, name: str) -> Path:
    path = OUT / name
    if not widget.grab().save(str(path)):
        raise RuntimeError(f"could not write {path}")
    print(f"wrote {path}")
    return path


def build(tmp: Path) -> dict[str, Path]:
    from tests.standins import build_models_dir, build_tracking_scene, photos

    models = build_models_dir(tmp / "models")
    scene = build_tracking_scene(tmp / "tracking_det.onnx")
    live = tmp / "live_models"
    (live / "buffalo_l").mkdir(parents=True)
    for rel in ("inswapper_128.onnx", "buffalo_l/w600k_r50.onnx", "GFPGANv1.4.onnx"):
        (live / rel).symlink_to(models / rel)
    (live / "buffalo_l" / "det_10g.onnx").symlink_to(scene.detector)
    video = tmp / "webcam.avi"
    # 1280x720 frames: the 640x360 pan over t1 enlarged, so the preview shows a webcam-sized picture.
    small = scene.frame(0, 0)[0]
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter.fourcc(*"MJPG"), 30.0, scene.frame_size)
    for i in range(900):
        writer.write(scene.frame(int(6 * np.sin(i / 12.0)), 0)[0])
    writer.release()
    files = {"models": models, "live_models": live, "video": video, "group": tmp / "group.png"}
    cv2.imwrite(str(files["group"]), small)
    for name, image in (("astronaut", photos.astronaut().image), ("t1", photos.t1().image),
                        ("tom_hanks", photos.tom_hanks().image)):
        files[name] = tmp / f"{name}.png"
        cv2.imwrite(str(files[name]), image)
    return files


async def shoot(tmp: Path) -> None:
    from app.gui.main_window import MainWindow

    files = build(tmp)

    def window(models: Path, ini: str) -> MainWindow:
        settings = QSettings(str(tmp / ini), QSettings.Format.IniFormat)
        settings.setValue("camera/mirror", False)  # the stand-in detector knows the scene unmirrored
        w = MainWindow(models, settings=settings, check_models=False)
        w.resize(*SIZE)
        w.show()
        return w

    # -- live
    w = window(files["live_models"], "live.ini")
    await until(lambda: not w.tasks.pending)
    task = w.source.load(str(files["group"]))
    await until(task.done)
    w.controls.use_camera(str(files["video"]))
    w.controls.restore.setChecked(False)
    w.start_live()
    await until(lambda: w.live.state == "live")
    await until(lambda: w.preview.frames_shown > 30)
    await asyncio.sleep(2.5)  # let the statistics settle
    w.banner.dismiss()
    await asyncio.sleep(0.2)  # the layout settles after the banner hides
    save(w, "main_live.png")
    w.close()

    # -- photos
    w = window(files["models"], "photos.ini")
    task = w.source.load(str(files["astronaut"]))
    await until(task.done)
    w.tabs.setCurrentWidget(w.photos)
    batch = w.photos.add_paths([files["t1"], files["tom_hanks"], files["astronaut"]])
    assert batch is not None
    await until(batch.done, 60)
    w.photos.list.setCurrentRow(0)
    w.photos.compare.split = 0.55
    w.banner.dismiss()
    await asyncio.sleep(0.2)
    save(w, "photos.png")

    # -- models (first start: an empty models folder)
    from app.gui.models_dialog import ModelsDialog

    dialog = ModelsDialog(tmp / "empty_models", w.tasks, first_start=True, parent=w)
    dialog.resize(980, 580)
    dialog.show()
    dialog.table.selectRow(0)
    await asyncio.sleep(0.2)
    save(dialog, "models.png")
    dialog.close()
    w.close()


def main() -> int:
    import qasync

    from app.gui.app import application

    OUT.mkdir(parents=True, exist_ok=True)
    app = application()
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    with tempfile.TemporaryDirectory() as tmp, loop:
        loop.run_until_complete(shoot(Path(tmp)))
    # Let Qt delete the windows while the interpreter is whole: PySide can crash collecting them at exit.
    for widget in app.topLevelWidgets():
        widget.deleteLater()
    app.processEvents()
    gc.collect()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
