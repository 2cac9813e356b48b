"""A source per person in the desktop app: a face clicked in the preview of a running session gets the source
picked for it (the session takes a FaceMap; the swapped face shows that source's colour, the stand-in swapper
tinting each face by its source); removing a mapping hands a map without that person; the Photos tab uses the
same map, and maps a person from two photos."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import Qt

from app.core.face_map import FaceMap
from app.core.image_io import read_image
from app.core.options import SwapOptions
from app.core.types import Face, Frame
from app.gui import person_picker
from tests.gui.conftest import save_png
from tests.gui.test_live import start_live
from tests.standins import photos


@dataclass
class SwapCall:
    frame: Frame
    faces: list[Face]
    sources: list[Any]
    options: SwapOptions
    out: Frame


def record_swaps(engine: Any) -> list[SwapCall]:
    """Keep every swap the worker really made (its input, faces, sources and output)."""
    calls: list[SwapCall] = []
    real_swap = engine.swap

    def swap(frame: Frame, faces: Any, sources: Any, options: SwapOptions) -> Any:
        result = real_swap(frame, faces, sources, options)
        calls.append(SwapCall(frame, list(faces), list(sources), options, result.frame))
        return result

    engine.swap = swap
    return calls


def region(face: Face) -> tuple[slice, slice]:
    x1, y1, x2, y2 = (int(round(v)) for v in face.box)
    return slice(max(0, y1), y2), slice(max(0, x1), x2)


def mean_colour(frame: Frame, face: Face) -> np.ndarray:
    return np.asarray(frame[region(face)].reshape(-1, 3).mean(axis=0))


def shows_source(engine: Any, frame: Frame, out: Frame, face: Face, own: Any, default: Any,
                 options: SwapOptions) -> tuple[float, float]:
    """How far the face's colour in `out` is from that face swapped alone with `own`, and with `default`."""
    with_own = engine.swap(frame, [face], [own], options).frame
    with_default = engine.swap(frame, [face], [default], options).frame
    seen = mean_colour(out, face)
    return (float(np.abs(seen - mean_colour(with_own, face)).max()),
            float(np.abs(seen - mean_colour(with_default, face)).max()))


def click_person(w: Any, qtbot: Any, person: Any, label: str) -> None:
    """Click the person's face in the preview and pick `label` in the menu that opens."""
    qtbot.mouseClick(w.preview, Qt.MouseButton.LeftButton, pos=w.preview.widget_point(*person.face.center))
    menu = w.picker.menu
    assert menu is not None and menu.isVisible()
    action = next(a for a in menu.actions() if a.text() == label)
    action.trigger()
    menu.close()
    assert w.picker.task is not None
    qtbot.waitUntil(w.picker.task.done, timeout=20000)


def near(a: Face, b: Face, px: float = 12.0) -> bool:
    return float(np.hypot(a.center[0] - b.center[0], a.center[1] - b.center[1])) < px


def test_a_face_clicked_in_live_gets_its_own_source_until_it_is_removed(
        make_window: Any, live_models_dir: Path, camera_video: Path, live_source_photo: Path, qtbot: Any) -> None:
    w = make_window(live_models_dir)
    calls = record_swaps(w.engines.engine)
    w.controls.option_controls.check_box("color_correction").setChecked(False)  # it would even out the tint
    start_live(w, camera_video, live_source_photo, qtbot)
    session, default = w.live.session, w.source.source
    qtbot.waitUntil(lambda: (s := session.people()) is not None and len(s.people) >= 4 and w.preview.frames_shown > 0,
                    timeout=20000)
    people = sorted(session.people().people, key=lambda p: -p.face.area)
    a, b = people[0], people[1]
    assert a.track_id is not None and a.mapped is None
    choices = w.source.choices()  # the other faces of the loaded group photo
    assert choices[0].source is default and len(choices) == 6

    click_person(w, qtbot, a, choices[1].label)
    cast = session.face_source
    assert isinstance(cast, FaceMap) and [p.name for p in cast.people] == ["Person 1"] and cast.default is default
    own_a = cast.people[0].source
    assert w.live_tab.people.names() == ["Person 1"] == w.photos_people.names()  # one map, both tabs

    # The worker swaps that person with their source and everyone else with the default.
    n = len(calls)
    qtbot.waitUntil(lambda: any(any(s is own_a for s in c.sources) for c in calls[n:]), timeout=20000)
    call = next(c for c in calls[n:] if any(s is own_a for s in c.sources))
    j = next(i for i, s in enumerate(call.sources) if s is own_a)
    assert near(call.faces[j], a.face)
    assert all(s is default for i, s in enumerate(call.sources) if i != j) and len(call.sources) >= 4
    to_own, to_default = shows_source(w.engines.engine, call.frame, call.out, call.faces[j], own_a, default,
                                      call.options)
    assert to_own < 0.5 and to_default > 8.0, (to_own, to_default)

    # A second person, given a photo file; "others: leave as they are" swaps only the two.
    w.picker.ask_photo = lambda: str(live_source_photo)  # the file dialog's answer
    click_person(w, qtbot, b, "a photo file\u2026")
    cast = session.face_source
    assert [p.name for p in cast.people] == ["Person 1", "Person 2"]
    assert w.live_tab.people.rows[1].gets.full_text == f"\u2192 {live_source_photo.name}"
    own_b = cast.people[1].source
    w.controls.option_controls.combo_box("others").setCurrentIndex(1)
    n = len(calls)
    qtbot.waitUntil(lambda: any(c.options.others == "keep" for c in calls[n:]), timeout=20000)
    kept = next(c for c in calls[n:] if c.options.others == "keep")
    assert sorted(id(s) for s in kept.sources) == sorted([id(own_a), id(own_b)])

    # Removing Person 1 hands a map without them; removing Person 2 too hands the default alone.
    qtbot.mouseClick(w.live_tab.people.rows[0].remove_button, Qt.MouseButton.LeftButton)
    cast = session.face_source
    assert isinstance(cast, FaceMap) and [p.name for p in cast.people] == ["Person 2"]
    assert w.live_tab.people.names() == ["Person 2"] == w.photos_people.names()
    qtbot.mouseClick(w.photos_people.rows[0].remove_button, Qt.MouseButton.LeftButton)
    assert session.face_source is default and w.live_tab.people.names() == []
    w.live.stop()
    qtbot.waitUntil(lambda: w.live.state == "idle", timeout=10000)


def test_a_click_beside_the_faces_or_before_live_says_what_to_do(make_window: Any, live_models_dir: Path,
                                                                 camera_video: Path, live_source_photo: Path,
                                                                 qtbot: Any) -> None:
    w = make_window(live_models_dir)
    assert w.picker.clicked(10, 10, w.preview.mapToGlobal(w.preview.rect().center())) is None
    assert "While live, click a face" in w.banner.text
    start_live(w, camera_video, live_source_photo, qtbot)
    qtbot.waitUntil(lambda: w.live.session.people() is not None, timeout=20000)
    assert w.picker.clicked(2, 2, w.preview.mapToGlobal(w.preview.rect().center())) is None
    assert "No face there" in w.banner.text
    w.live.stop()
    qtbot.waitUntil(lambda: w.live.state == "idle", timeout=10000)


def test_the_photos_tab_swaps_a_mapped_person_with_their_source(
        make_window: Any, standin_models_dir: Path, photo_files: dict[str, Path], tmp_path: Path,
        monkeypatch: Any, qtbot: Any) -> None:
    tom = save_png(tmp_path / "tom_hanks.png", photos.tom_hanks().image)
    w = make_window(standin_models_dir)
    w.controls.option_controls.check_box("color_correction").setChecked(False)
    task = w.source.load(str(photo_files["astronaut"]))
    qtbot.waitUntil(task.done, timeout=20000)
    default = w.source.source
    w.tabs.setCurrentWidget(w.photos)

    # "Map a person...": a photo of the person (t1: its largest face), then the face they get (Tom Hanks).
    answers = iter([str(photo_files["t1"]), str(tom)])
    monkeypatch.setattr(person_picker.QFileDialog, "getOpenFileName", lambda *a, **k: (next(answers), ""))
    with qtbot.waitSignal(w.face_map.people_changed, timeout=20000):
        assert w.photos_people.map_button is not None
        w.photos_people.map_button.click()
    assert w.photos_people.names() == ["t1 1"] == w.live_tab.people.names()
    row = w.photos_people.rows[0]
    assert row.entry.label == "Person in t1.png" and row.entry.source_label == "tom_hanks.png"
    own = w.face_map.face_map.people[0].source

    with qtbot.waitSignal(w.photos.batch_finished, timeout=30000):
        w.photos.add_paths([photo_files["t1"]])
    item = w.photos.items[0]
    assert item.state == "done" and item.faces == 6
    engine, options = w.engines.engine, w.options()
    image = read_image(photo_files["t1"])
    faces = engine.detect(image, options)
    target = max(faces, key=lambda f: f.area)
    to_own, to_default = shows_source(engine, image, item.after, target, own, default, options)
    assert to_own < 0.5 and to_default > 8.0, (to_own, to_default)
    other = next(f for f in faces if f is not target)
    to_own, to_default = shows_source(engine, image, item.after, other, own, default, options)
    assert to_default < 0.5 and to_own > 8.0, (to_own, to_default)


def test_mapping_from_a_photo_without_a_face_is_a_message(make_window: Any, standin_models_dir: Path,
                                                          photo_files: dict[str, Path], qtbot: Any) -> None:
    w = make_window(standin_models_dir)
    task = w.face_map.map_from_photos(str(photo_files["blank"]), str(photo_files["astronaut"]))
    qtbot.waitUntil(task.done, timeout=20000)
    assert w.banner.level == "warning" and "no face" in w.banner.text and w.face_map.entries == ()
    assert w.face_map.cast is None


def test_a_video_in_the_photos_tab_gives_the_mapped_person_their_source(
        make_window: Any, live_models_dir: Path, live_source_photo: Path, standin_tracking: Any, tmp_path: Path,
        qtbot: Any) -> None:
    from tests.gui.test_videos import make_clip

    w = make_window(live_models_dir)
    task = w.source.load(str(live_source_photo))
    qtbot.waitUntil(task.done, timeout=20000)
    largest = w.source.selected
    task = w.source.pick((largest + 1) % len(w.source.faces))  # the default: another face than the largest
    assert task is not None
    qtbot.waitUntil(task.done, timeout=20000)
    default = w.source.source
    # The largest face of the group photo gets that face's own identity (the photo's largest face).
    task = w.face_map.map_from_photos(str(live_source_photo), str(live_source_photo))
    qtbot.waitUntil(task.done, timeout=20000)
    own = w.face_map.face_map.people[0].source
    calls = record_swaps(w.engines.engine)
    w.tabs.setCurrentWidget(w.photos)
    w.photos.set_folder(tmp_path)
    with qtbot.waitSignal(w.photos.batch_finished, timeout=30000):
        w.photos.add_paths([make_clip(tmp_path / "clip.mp4", standin_tracking, 6)])
    assert w.photos.items[0].state == "done", w.photos.items[0].error
    assert len(calls) == 6
    target = w.source.faces[largest]
    for call in calls:  # every frame: the mapped person (panned by up to 10 px) has theirs, the rest the default
        mine = [i for i, s in enumerate(call.sources) if s is own]
        assert len(mine) == 1 and near(call.faces[mine[0]], target, 16.0)
        assert all(s is default for i, s in enumerate(call.sources) if i != mine[0]) and len(call.sources) >= 4


def test_quick_clicks_map_two_people_and_a_target_photo_again_is_the_same_person(
        make_window: Any, standin_models_dir: Path, photo_files: dict[str, Path], tmp_path: Path, qtbot: Any) -> None:
    from app.core.processor import Person
    from app.gui.face_map_controller import SourceChoice

    w = make_window(standin_models_dir)
    image = read_image(photo_files["t1"])
    faces = w.engines.engine.detect(image, w.options())
    astronaut = SourceChoice("the astronaut", path=str(photo_files["astronaut"]))
    first = w.face_map.map_seen(image, Person(faces[0], 1), astronaut)
    second = w.face_map.map_seen(image, Person(faces[1], 2), astronaut)  # before the first is done
    qtbot.waitUntil(lambda: first.done() and second.done(), timeout=20000)
    assert sorted(w.live_tab.people.names()) == ["Person 1", "Person 2"]
    assert w.face_map.cast.default is None  # no source face loaded: only they are swapped

    tom = save_png(tmp_path / "tom.png", photos.tom_hanks().image)
    for source in (photo_files["astronaut"], tom):
        task = w.face_map.map_from_photos(str(photo_files["t1"]), str(source))
        qtbot.waitUntil(task.done, timeout=20000)
    assert w.photos_people.names()[2:] == ["t1 1"] and w.photos_people.rows[2].entry.source_label == "tom.png"
