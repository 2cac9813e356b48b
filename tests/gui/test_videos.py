"""Videos in the Photos tab: a dropped clip (real photo content panned, with audio) is swapped in the
background into the output folder with the same frame count while the progress bar counts frames to 100%;
Cancel part-way leaves no file behind and the tab ready for more."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from PySide6.QtCore import Qt

from app.gui.main_window import VIDEO_FILTER
from app.gui.video_jobs import open_dialog_filter, video_output_name
from tests.gui.conftest import drop_files, live_threads, record_swap_options
from tests.media.test_video import write_clip
from tests.standins import TrackingScene


def make_clip(path: Path, scene: TrackingScene, frames: int) -> Path:
    write_clip(path, [scene.frame(2 * i, 0)[0] for i in range(frames)], rate=Fraction(25))
    return path


def count_frames(path: Path) -> int:
    with av.open(str(path)) as c:
        return sum(1 for _ in c.decode(video=0))


@pytest.fixture
def window(make_window: Any, live_models_dir: Path, live_source_photo: Path, tmp_path: Path, qtbot: Any) -> Any:
    w = make_window(live_models_dir)
    task = w.source.load(str(live_source_photo))
    qtbot.waitUntil(task.done, timeout=20000)
    assert w.source.source is not None
    w.tabs.setCurrentWidget(w.photos)
    out = tmp_path / "out"
    out.mkdir()
    w.photos.set_folder(out)
    return w


def test_a_dropped_video_is_swapped_with_progress(window: Any, standin_tracking: TrackingScene, tmp_path: Path,
                                                  qtbot: Any) -> None:
    w, tab = window, window.photos
    seen = record_swap_options(w.engines.engine)
    w.controls.restore.setChecked(True)
    clip = make_clip(tmp_path / "clip.mp4", standin_tracking, 10)
    shown: list[tuple[int, int, str]] = []
    tab.video_progress.connect(lambda done, total, eta: shown.append((done, total, tab.progress.text())))

    with qtbot.waitSignal(tab.batch_finished, timeout=30000):
        assert drop_files(tab, [clip])
        qtbot.waitUntil(tab.cancel_button.isVisible, timeout=5000)  # while it runs: the UI thread is free
    item = tab.items[0]
    assert item.state == "done", item.error
    output = tmp_path / "out" / "clip_swapped.mp4"
    assert item.output == output and sorted(p.name for p in output.parent.iterdir()) == [output.name]
    assert count_frames(output) == count_frames(clip) == item.frames == 10
    assert item.faces == 10  # every frame had its faces swapped, and restored: restore is on
    assert len(seen) == 10 and all(o.restore is not None for o in seen)

    dones = [d for d, _, _ in shown]
    assert dones == sorted(dones) and shown[-1][:2] == (10, 10)
    assert shown[-1][2].startswith("100%") and "frame 10 of 10" in shown[-1][2]
    assert any("left" in text for _, _, text in shown)
    assert not tab.cancel_button.isVisible() and not tab.job_progress.isVisible()

    # the first frame before and after, in the comparison and the list
    assert item.before is not None and item.after is not None
    assert item.before.shape == (360, 640, 3) and not np.array_equal(item.before, item.after)
    assert "clip_swapped.mp4" in tab.list.item(0).text() and "first frame" in tab.caption.text()
    assert tab.save_button.isEnabled() and not tab.copy_button.isEnabled()

    save = tab.save_to(tmp_path / "out")  # already there: nothing copied over itself
    qtbot.waitUntil(save.done, timeout=10000)
    assert save.result() == [output] and count_frames(output) == 10
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    save = tab.save_to(elsewhere)
    qtbot.waitUntil(save.done, timeout=10000)
    assert save.result() == [elsewhere / output.name] and [p.name for p in elsewhere.iterdir()] == [output.name]
    assert (elsewhere / output.name).read_bytes() == output.read_bytes()


def test_cancel_part_way_leaves_no_file(window: Any, standin_tracking: TrackingScene, live_source_photo: Path,
                                        tmp_path: Path, qtbot: Any) -> None:
    w, tab = window, window.photos
    clip = make_clip(tmp_path / "long.mkv", standin_tracking, 150)
    done: list[int] = []
    tab.video_progress.connect(lambda d, total, eta: done.append(d))
    with qtbot.waitSignal(tab.batch_finished, timeout=30000):
        assert drop_files(tab, [clip])
        qtbot.waitUntil(lambda: bool(done) and done[-1] >= 2, timeout=20000)
        qtbot.mouseClick(tab.cancel_button, Qt.MouseButton.LeftButton)
        assert tab.cancel_button.text().startswith("Cancelling")
    item = tab.items[0]
    assert item.state == "cancelled" and done[-1] < 150
    assert list((tmp_path / "out").iterdir()) == []  # no output, no temp file
    assert "cancelled" in tab.list.item(0).text()
    assert not tab.cancel_button.isVisible() and not tab.busy
    assert not [t for t in live_threads() if t.name.startswith("dlc-video")]

    # still usable: the next file goes through
    with qtbot.waitSignal(tab.batch_finished, timeout=30000):
        assert drop_files(tab, [live_source_photo])
    assert tab.items[1].state == "done" and tab.items[1].faces > 0
    assert w.tasks.pending == 0


def test_closing_the_window_stops_a_video(window: Any, standin_tracking: TrackingScene, tmp_path: Path,
                                          qtbot: Any) -> None:
    tab = window.photos
    clip = make_clip(tmp_path / "long.mov", standin_tracking, 150)
    done: list[int] = []
    tab.video_progress.connect(lambda d, total, eta: done.append(d))
    assert drop_files(tab, [clip])
    qtbot.waitUntil(lambda: bool(done), timeout=20000)
    window.close()  # waits for the pool, which the video leaves at once
    assert list((tmp_path / "out").iterdir()) == []
    assert not [t for t in live_threads() if t.name.startswith("dlc-video")]


def test_file_dialogs_offer_videos() -> None:
    for suffix in ("mp4", "mov", "mkv", "avi", "webm"):
        assert f"*.{suffix}" in open_dialog_filter() and f"*.{suffix}" in VIDEO_FILTER
    assert video_output_name(Path("a/b.mov")) == "b_swapped.mov"
    assert video_output_name(Path("a/b.mpg")) == "b_swapped.mp4"


def test_a_video_never_replaces_an_earlier_result(window: Any, standin_tracking: TrackingScene, tmp_path: Path,
                                                  qtbot: Any) -> None:
    tab = window.photos
    earlier = tmp_path / "out" / "clip_swapped.mp4"
    earlier.write_bytes(b"an earlier result")
    clip = make_clip(tmp_path / "clip.mp4", standin_tracking, 4)
    with qtbot.waitSignal(tab.batch_finished, timeout=30000):
        assert drop_files(tab, [clip])
    item = tab.items[0]
    assert item.state == "done", item.error
    assert item.output == tmp_path / "out" / "clip_swapped-2.mp4" and count_frames(item.output) == 4
    assert earlier.read_bytes() == b"an earlier result"
    assert "clip_swapped-2.mp4" in tab.list.item(0).text()
