"""Several source photos, one identity: dropped together they make one source; each photo's quality shows, a
flagged one (blurred, another person, no face) is marked; one click leaves a photo out (the live session gets
the new identity) or uses it again; photos can be added to the ones in use; the photos used are remembered."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from PySide6.QtCore import Qt

from app.core.identity import identity_source
from tests.gui.conftest import drop_files, save_png
from tests.standins import photos


@pytest.fixture(scope="module")
def source_photos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The astronaut sharp and blurred (one person), Tom Hanks (another), a photo without a face."""
    root = tmp_path_factory.mktemp("source_photos")
    astronaut = photos.astronaut().image
    return {
        "sharp": save_png(root / "astronaut.png", astronaut),
        "blurred": save_png(root / "astronaut_blurred.png", cv2.GaussianBlur(astronaut, (0, 0), 2.0)),
        "other": save_png(root / "tom_hanks.png", photos.tom_hanks().image),
        "blank": save_png(root / "blank.png", photos.blank()),
    }


def test_dropped_photos_make_one_identity_and_a_flagged_photo_can_be_left_out(
        make_window: Any, standin_models_dir: Path, source_photos: dict[str, Path], camera_video: Path,
        qtbot: Any) -> None:
    w = make_window(standin_models_dir)
    w.controls.use_camera(str(camera_video))
    w.start_live()  # the planted detector finds nobody in the camera's frames: they pass through
    qtbot.waitUntil(lambda: w.live.state == "live", timeout=20000)
    names = ["sharp", "blurred", "other", "blank"]
    with qtbot.waitSignal(w.source.source_changed, timeout=30000):
        assert drop_files(w.source_panel, [source_photos[n] for n in names])
    identity, first = w.source.identity, w.source.source
    assert identity is not None and first is not None and identity.included == (0, 1, 2)
    assert w.live.session is not None and w.live.session.face_source is first

    rows = w.source_panel.photos.rows
    assert w.source_panel.photos.isVisible() and [r.name.full_text for r in rows] == [
        "astronaut.png", "astronaut_blurred.png", "tom_hanks.png", "blank.png"]
    assert [r.flagged for r in rows] == [False, True, True, True]  # they stand out (styled by the property)
    assert rows[0].problems.isHidden() and rows[0].score.text().endswith("%")
    assert "sharpness" in rows[0].details.text() and "similar " in rows[0].details.text()
    assert "blurred" in rows[1].problems.text() and "another person" in rows[2].problems.text()
    assert "no face" in rows[3].problems.text() and not rows[3].button.isEnabled()
    assert "2 flagged" in w.source_panel.message.text()

    # Leave Tom out: the identity is the astronaut's alone, and live takes it from its next frame.
    with qtbot.waitSignal(w.source.source_changed, timeout=20000) as changed:
        qtbot.mouseClick(rows[2].button, Qt.MouseButton.LeftButton)
    second = changed.args[0]
    assert second is w.source.source and second is not first
    assert w.source.identity is not None and w.source.identity.included == (0, 1)
    assert w.live.session.face_source is second
    expected = identity_source(w.engines.engine, identity.excluding([2]))
    np.testing.assert_allclose(second.latent, expected.latent, rtol=1e-5, atol=1e-6)
    assert float(np.dot(second.latent.ravel(), first.latent.ravel())) < 0.99  # another identity
    rows = w.source_panel.photos.rows
    assert rows[2].button.text() == "Use again" and rows[0].button.text() == "Leave out"
    assert rows[2].property("included") is False and "left out" not in rows[0].problems.text()
    assert w.source.left_out == {str(source_photos["other"])}

    # ... and use him again: the first identity comes back.
    with qtbot.waitSignal(w.source.source_changed, timeout=20000) as changed:
        qtbot.mouseClick(w.source_panel.photos.rows[2].button, Qt.MouseButton.LeftButton)
    np.testing.assert_allclose(changed.args[0].latent, first.latent, rtol=1e-5, atol=1e-6)
    assert w.live.session.face_source is changed.args[0]
    w.live.stop()
    qtbot.waitUntil(lambda: w.live.state == "idle", timeout=10000)


def test_the_last_photo_cannot_be_left_out(make_window: Any, standin_models_dir: Path,
                                           source_photos: dict[str, Path], qtbot: Any) -> None:
    w = make_window(standin_models_dir)
    task = w.source.load_photos([source_photos["sharp"], source_photos["blurred"]], left_out=[
        str(source_photos["blurred"])])
    qtbot.waitUntil(task.done, timeout=20000)
    assert w.source.identity is not None and w.source.identity.included == (0,)
    assert w.source.toggle_photo(0) is None and "at least one photo" in w.source_panel.message.text()


def test_photos_added_to_a_single_photo_join_its_chosen_face(make_window: Any, standin_models_dir: Path,
                                                             source_photos: dict[str, Path],
                                                             photo_files: dict[str, Path], qtbot: Any) -> None:
    w = make_window(standin_models_dir)
    task = w.source.load(str(photo_files["t1"]))
    qtbot.waitUntil(task.done, timeout=20000)
    assert not w.source_panel.photos.isVisible()
    chosen = (w.source.selected + 1) % len(w.source.faces)
    task = w.source.pick(chosen)
    assert task is not None
    qtbot.waitUntil(task.done, timeout=20000)
    picked = w.source.faces[chosen]

    with qtbot.waitSignal(w.source.source_changed, timeout=20000):
        w.source.add_photos([source_photos["sharp"], photo_files["t1"]])  # t1 is in use already
    identity = w.source.identity
    assert identity is not None and w.source.paths == [str(photo_files["t1"]), str(source_photos["sharp"])]
    first = identity.photos[0].face
    assert first is not None and np.allclose(first.points, picked.points)  # the face picked, not the largest
    assert len(w.source_panel.photos.rows) == 2


def test_the_photos_used_are_remembered(make_window: Any, standin_models_dir: Path, source_photos: dict[str, Path],
                                        tmp_path: Path, qtbot: Any) -> None:
    ini = tmp_path / "photos.ini"
    w = make_window(standin_models_dir, ini)
    paths = [source_photos["sharp"], source_photos["blurred"], source_photos["other"]]
    task = w.source.load_photos(paths, left_out=[str(source_photos["other"])])
    qtbot.waitUntil(task.done, timeout=20000)
    assert w.source.identity is not None and w.source.identity.included == (0, 1)
    w.close()

    again = make_window(standin_models_dir, ini)
    assert again.store.source_photos() == [str(p) for p in paths]
    assert again.store.source_left_out() == [str(source_photos["other"])]
    qtbot.waitUntil(lambda: again.source.identity is not None, timeout=20000)  # made again from those files
    assert again.source.paths == [str(p) for p in paths] and again.source.identity.included == (0, 1)
    assert again.source_panel.photos.rows[2].button.text() == "Use again"
    again.close()

    # Back to one photo: one path is remembered (and the single-photo key older versions read).
    third = make_window(standin_models_dir, ini)
    task = third.source.load(str(source_photos["sharp"]))
    qtbot.waitUntil(task.done, timeout=20000)
    third.close()
    store = make_window(standin_models_dir, ini).store
    assert store.source_photos() == [str(source_photos["sharp"])] and store.source_left_out() == []
    assert store.source_path() == str(source_photos["sharp"])
