"""Photos: dropping two images gives two results; Save writes files that match the engine's output."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtGui import QGuiApplication

from app.core.image_io import read_image
from app.core.processor import FrameProcessor
from tests.gui.conftest import drop_files


def test_two_dropped_photos_are_swapped_and_saved(make_window: Any, standin_models_dir: Path,
                                                  photo_files: dict[str, Path], tmp_path: Path, qtbot: Any) -> None:
    w = make_window(standin_models_dir)
    task = w.source.load(str(photo_files["astronaut"]))
    qtbot.waitUntil(task.done, timeout=20000)
    assert w.source.source is not None
    w.tabs.setCurrentWidget(w.photos)

    with qtbot.waitSignal(w.photos.batch_finished, timeout=30000):
        assert drop_files(w.photos, [photo_files["t1"], photo_files["astronaut"]])
    items = w.photos.items
    assert [i.state for i in items] == ["done", "done"]
    assert [i.faces for i in items] == [6, 1]
    assert all(i.after is not None and not np.array_equal(i.after, i.before) for i in items)
    assert w.photos.list.count() == 2 and "6 face(s)" in w.photos.list.item(0).text()

    out = tmp_path / "out"
    out.mkdir()
    save = w.photos.save_to(out)
    qtbot.waitUntil(save.done, timeout=20000)
    written = save.result()
    assert [p.name for p in written] == ["t1_swapped.png", "astronaut_swapped.png"]
    assert w.banner.isVisible() and w.banner.text == f"Saved 2 photo(s) to {out}"
    engine, options = w.engines.engine, w.options()
    for path, src in zip(written, (photo_files["t1"], photo_files["astronaut"]), strict=True):
        expected = FrameProcessor(engine).process(read_image(src), w.source.source, options).frame
        assert np.array_equal(read_image(path), expected)

    # Saving again to the same folder keeps the first files: the new ones get free names.
    first = {p.name: p.read_bytes() for p in written}
    save = w.photos.save_to(out)
    qtbot.waitUntil(save.done, timeout=20000)
    assert [p.name for p in save.result()] == ["t1_swapped-2.png", "astronaut_swapped-2.png"]
    assert {p.name: p.read_bytes() for p in written} == first
    assert sorted(p.name for p in out.iterdir()) == ["astronaut_swapped-2.png", "astronaut_swapped.png",
                                                    "t1_swapped-2.png", "t1_swapped.png"]

    w.photos.list.setCurrentRow(1)
    w.photos.copy_selected()
    clip = QGuiApplication.clipboard().image()
    assert (clip.width(), clip.height()) == (512, 512)
    assert w.banner.text == "Copied astronaut_swapped.png to the clipboard"


def test_photos_wait_for_a_source_face(make_window: Any, standin_models_dir: Path, photo_files: dict[str, Path],
                                       qtbot: Any) -> None:
    w = make_window(standin_models_dir)
    assert w.photos.add_paths([photo_files["t1"]]) is None
    assert w.photos.items[0].state == "queued" and "source face first" in w.banner.text
    with qtbot.waitSignal(w.photos.batch_finished, timeout=30000):
        w.source.load(str(photo_files["astronaut"]))  # choosing a source resumes the batch
    assert w.photos.items[0].state == "done"
