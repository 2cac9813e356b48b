"""Recording from the live tab: each recording is a new file named after the chosen one with its start time,
so a second recording never replaces the first; what is being written has a temporary name until it ends."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from app.gui.paths import free_path, recording_path


def test_recording_names_are_new_files_beside_the_chosen_one(tmp_path: Path) -> None:
    chosen = tmp_path / "take.mp4"
    when = 1_700_000_000.0
    first = recording_path(chosen, when)
    assert first.parent == tmp_path and re.fullmatch(r"take-\d{8}-\d{6}\.mp4", first.name)
    first.write_bytes(b"x")
    second = recording_path(chosen, when)  # the same second
    assert second.name == first.stem + "-2.mp4"
    (tmp_path / (second.stem + ".part.mp4")).write_bytes(b"")  # being recorded to right now
    assert recording_path(chosen, when).name == first.stem + "-3.mp4"
    assert free_path(tmp_path / "new.png") == tmp_path / "new.png"


def test_two_recordings_make_two_files(make_window: Any, live_models_dir: Path, camera_video: Path,
                                       tmp_path: Path, qtbot: Any) -> None:
    out = tmp_path / "rec"
    out.mkdir()
    w = make_window(live_models_dir)
    w.set_record_path(str(out / "take.mp4"))
    w.controls.use_camera(str(camera_video))
    w.start_live()
    qtbot.waitUntil(lambda: w.live.state == "live", timeout=20000)
    def finished() -> list[str]:
        return sorted(p.name for p in out.iterdir() if ".part" not in p.name)

    for n in (1, 2):
        before = set(finished())
        w.controls.record.setChecked(True)
        qtbot.waitUntil(lambda: w.live.recorder.active, timeout=10000)
        shown = w.preview.frames_shown
        qtbot.waitUntil(lambda: w.preview.frames_shown > shown + 3, timeout=10000)  # noqa: B023 - used at once
        w.controls.record.setChecked(False)
        qtbot.waitUntil(lambda: len(finished()) == n, timeout=10000)  # noqa: B023
        (new,) = set(finished()) - before
        qtbot.waitUntil(lambda: w.banner.text == f"Recording saved to {out / new}", timeout=5000)  # noqa: B023
    names = sorted(p.name for p in out.iterdir())
    assert len(names) == 2 and all(re.fullmatch(r"take-\d{8}-\d{6}(-2)?\.mp4", n) for n in names), names
    assert all((out / n).stat().st_size > 0 for n in names)
    w.live.stop()
    qtbot.waitUntil(lambda: w.live.state == "idle", timeout=10000)
