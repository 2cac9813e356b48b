"""Screenshots of the GUI from a real offscreen run: docs/screenshots/main_live.png, photos.png, models.png and
mapping.png.

Nothing is drawn by hand: the window runs on stand-in models (tests/standins) with a video file as the camera
(frames panning over insightface's t1.jpg), real photos for the Photos tab, and an empty models folder for the
model dialog's first start. For mapping.png (several source photos made into one identity, people with a source
of their own, the kept mouth) the stand-in detector is planted with the source photos and a still camera
picture of t1, so one models folder serves both.

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
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import cv2  # noqa: E402
import numpy as np  # noqa: E402
from PySide6.QtCore import QSettings  # noqa: E402
from PySide6.QtWidgets import QGroupBox, QScrollArea, QWidget  # noqa: E402

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
    from tests.standins import build_models_dir, build_planted_detector, build_tracking_scene, photos

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
    # Several photos of one person (one of them blurred) and one of someone else; a still camera picture of t1.
    files["astronaut_blurred"] = tmp / "astronaut_blurred.png"
    cv2.imwrite(str(files["astronaut_blurred"]), cv2.GaussianBlur(photos.astronaut().image, (0, 0), 2.0))
    still, still_faces = scene.frame(0, 0)
    mapping = tmp / "mapping_models"
    (mapping / "buffalo_l").mkdir(parents=True)
    for rel in ("inswapper_128.onnx", "buffalo_l/w600k_r50.onnx", "buffalo_l/2d106det.onnx", "GFPGANv1.4.onnx"):
        (mapping / rel).symlink_to(models / rel)
    build_planted_detector(mapping / "buffalo_l" / "det_10g.onnx", [
        (photos.astronaut().image, photos.astronaut().faces), (photos.tom_hanks().image, photos.tom_hanks().faces),
        (still, still_faces)])
    files["mapping_models"], files["still_video"] = mapping, tmp / "still.avi"
    writer = cv2.VideoWriter(str(files["still_video"]), cv2.VideoWriter.fourcc(*"MJPG"), 30.0, scene.frame_size)
    for _ in range(900):
        writer.write(still)
    writer.release()
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
    await w.face_map.map_from_photos(str(files["t1"]), str(files["tom_hanks"]))  # t1's largest face gets Tom's
    batch = w.photos.add_paths([files["t1"], files["tom_hanks"], files["astronaut"]])
    assert batch is not None
    await until(batch.done, 60)
    w.photos.list.setCurrentRow(0)
    w.photos.compare.split = 0.8  # the mapped person (the largest face, right) shows swapped
    w.banner.dismiss()
    await asyncio.sleep(0.2)
    save(w, "photos.png")

    await shoot_mapping(files, window)

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


async def shoot_mapping(files: dict[str, Path], window: Callable[[Path, str], Any]) -> None:
    """Live with one identity from three photos (Tom Hanks left out, the blurred one flagged), two people given
    a source of their own, the kept mouth on."""
    w = window(files["mapping_models"], "mapping.ini")
    w.resize(SIZE[0], 1000)  # a little taller: the photos' quality and the people both show
    task = w.source.load_photos([files["astronaut"], files["astronaut_blurred"], files["tom_hanks"]])
    await until(task.done)
    task = w.source.toggle_photo(2)
    assert task is not None
    await until(task.done)
    c = w.controls.option_controls
    c.check_box("mouth_mask").setChecked(True)
    c.combo_box("mask").setCurrentIndex(c.combo_box("mask").findData("hull"))
    w.controls.use_camera(str(files["still_video"]))
    w.controls.restore.setChecked(False)
    w.start_live()
    await until(lambda: w.live.state == "live")
    session = w.live.session
    await until(lambda: (seen := session.people()) is not None and len(seen.people) >= 6)
    seen = session.people()
    people = sorted(seen.people, key=lambda p: p.face.box[0])
    choices = {choice.label: choice for choice in w.source.choices()}
    for person, label in ((people[1], "the face in tom_hanks.png"), (people[4], "the face in astronaut.png")):
        await w.face_map.map_seen(seen.frame, person, choices[label])
    await until(lambda: w.preview.frames_shown > 60)
    await asyncio.sleep(2.0)  # let the statistics settle
    scroll = w.live_tab.findChild(QScrollArea, "controlsScroll")
    mask_box = next(b for b in w.controls.findChildren(QGroupBox) if b.title() == "Mask")
    scroll.ensureWidgetVisible(mask_box, 0, 0)
    sources = w.live_tab.findChild(QScrollArea, "sourceScroll")
    sources.ensureWidgetVisible(w.live_tab.people, 0, 0)  # the photos' quality above, the people below
    w.banner.dismiss()
    await asyncio.sleep(0.2)
    save(w, "mapping.png")
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
