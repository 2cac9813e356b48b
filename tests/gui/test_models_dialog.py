"""The model dialog: missing and corrupt files shown as such; a download from a local server shows progress,
verifies and marks the file ok; a wrong hash is refused; a located file is checked before it is used."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from app.gui.models_dialog import ModelsDialog
from app.gui.tasks import TaskRunner
from app.models.fetch import FetchOptions
from app.models.manifest import MODEL_FILES, ModelFile
from tests.models.test_download import LocalServer, server, sha, standin_bytes  # noqa: F401 - the server fixture

FAST = FetchOptions(attempts=1, backoff_s=0.0, timeout_s=5.0, chunk_size=16 * 1024)
DATA = standin_bytes(300_000, seed=5)


@pytest.fixture
def tasks(qloop: Any) -> Any:
    runner = TaskRunner(lambda exc: (_ for _ in ()).throw(exc))
    yield runner
    runner.shutdown()


def entry(url: str, sha256: str) -> ModelFile:
    return ModelFile("standin", "standin/model.onnx", "stand-in model", True, size=len(DATA), sha256=sha256,
                     hash_confirmed=True, urls=(url,))


def dialog(qtbot: Any, models_dir: Path, tasks: TaskRunner, files: list[ModelFile]) -> ModelsDialog:
    d = ModelsDialog(models_dir, tasks, files, fetch_options=FAST)
    qtbot.addWidget(d)
    d.show()
    return d


def test_missing_and_corrupt_files_are_shown(qtbot: Any, tmp_path: Path, tasks: TaskRunner) -> None:
    (tmp_path / "inswapper_128.onnx").write_bytes(b"not the model")
    d = dialog(qtbot, tmp_path, tasks, list(MODEL_FILES))
    assert d.status_text("inswapper") == "corrupt"
    assert d.status_text("detector") == "missing" and d.status_text("recognizer") == "missing"
    row = [f.key for f in d.files].index("inswapper")
    assert d.table.item(row, 3).text() == "corrupt" and "expected" in d.table.item(row, 3).toolTip()
    assert {f.key for f in d.missing_files()} >= {"inswapper", "detector", "recognizer"}


def test_download_shows_progress_verifies_and_marks_ok(qtbot: Any, tmp_path: Path, tasks: TaskRunner,
                                                       server: LocalServer) -> None:  # noqa: F811
    f = entry(server.add("/model.onnx", DATA), sha(DATA))
    d = dialog(qtbot, tmp_path, tasks, [f])
    assert d.status_text("standin") == "missing"
    progress: list[int] = []
    d.progress_signal.connect(lambda label, done, total: progress.append(done))
    with qtbot.waitSignal(d.models_changed, timeout=10000):
        d.download_button.click()
    qtbot.waitUntil(lambda: not d.busy and d.status_text("standin") == "ok", timeout=10000)
    assert len(progress) > 3 and progress[-1] == len(DATA)
    assert (tmp_path / "standin" / "model.onnx").read_bytes() == DATA
    assert "verified" in d.progress_label.text()


def test_wrong_hash_is_refused(qtbot: Any, tmp_path: Path, tasks: TaskRunner,
                               server: LocalServer) -> None:  # noqa: F811
    f = entry(server.add("/model.onnx", DATA), sha(b"other bytes"))
    d = dialog(qtbot, tmp_path, tasks, [f])
    task = d.start_download([f])
    qtbot.waitUntil(lambda: task.done() and not d.busy, timeout=10000)  # type: ignore[attr-defined]
    assert "does not match" in d.progress_label.text()
    assert d.status_text("standin") == "missing" and not (tmp_path / "standin" / "model.onnx").exists()


def test_located_file_is_checked_before_use(qtbot: Any, tmp_path: Path, tasks: TaskRunner) -> None:
    f = entry("http://127.0.0.1:9/unused", sha(DATA))
    models = tmp_path / "models"
    d = dialog(qtbot, models, tasks, [f])
    wrong = tmp_path / "wrong.onnx"
    wrong.write_bytes(DATA[:-1] + b"x")
    task = d.locate(f, wrong)
    qtbot.waitUntil(lambda: task.done() and not d.busy, timeout=10000)  # type: ignore[attr-defined]
    assert "Not used" in d.progress_label.text() and d.status_text("standin") == "missing"

    good = tmp_path / "good.onnx"
    good.write_bytes(DATA)
    task = d.locate(f, good)
    qtbot.waitUntil(lambda: task.done() and d.status_text("standin") == "ok", timeout=10000)  # type: ignore[attr-defined]
    assert (models / "standin" / "model.onnx").read_bytes() == DATA


# -- Optimize for CPU (the int8 swapper) ---------------------------------------------------------------------
def test_optimize_button_builds_shows_progress_and_the_quality_report(
    qtbot: Any, int8_models_dir: Path, tasks: TaskRunner, photo_files: dict[str, Path]
) -> None:
    d = ModelsDialog(int8_models_dir, tasks, list(MODEL_FILES), source_photos=lambda: [photo_files["astronaut"]])
    qtbot.addWidget(d)
    d.show()
    qtbot.waitUntil(lambda: d.optimize_button.isEnabled(), timeout=10000)
    assert "no int8 swapper has been built" in d.int8_label.text()
    stages: list[str] = []
    d.optimize_signal.connect(lambda stage, done, total: stages.append(stage))
    with qtbot.waitSignal(d.models_changed, timeout=60000):
        d.optimize_button.click()
        assert d.busy and not d.optimize_button.isEnabled() and d.cancel_button.isEnabled()
    qtbot.waitUntil(lambda: not d.busy and "PSNR" in d.int8_label.text(), timeout=10000)
    assert {"calibrating", "checking quality"} <= set(stages)
    assert "enabled" in d.progress_label.text() and "worst pixel error" in d.int8_label.text()
    report = json.loads(next(int8_models_dir.glob("inswapper_128.*.int8.json")).read_text())
    assert report["enabled"] and report["user_photos"] == [str(photo_files["astronaut"])]
    assert d.optimize_button.isEnabled()


def test_optimize_can_be_cancelled_and_leaves_nothing(qtbot: Any, int8_models_dir: Path, tasks: TaskRunner) -> None:
    d = ModelsDialog(int8_models_dir, tasks, list(MODEL_FILES))
    qtbot.addWidget(d)
    d.show()
    qtbot.waitUntil(lambda: d.optimize_button.isEnabled(), timeout=10000)
    task = d.start_optimize()
    d.cancel_button.click()
    qtbot.waitUntil(lambda: task.done() and not d.busy, timeout=30000)  # type: ignore[attr-defined]
    assert "cancelled" in d.progress_label.text()
    assert not [p for p in int8_models_dir.iterdir() if ".int8." in p.name]


def test_optimize_is_disabled_without_a_swap_model(qtbot: Any, tmp_path: Path, tasks: TaskRunner) -> None:
    d = dialog(qtbot, tmp_path, tasks, list(MODEL_FILES))
    qtbot.waitUntil(lambda: d.int8_state == "no-model", timeout=10000)
    assert not d.optimize_button.isEnabled() and "nothing to optimize" in d.int8_label.text()
