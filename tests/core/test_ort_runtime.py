"""onnxruntime itself (app/core/ort_runtime.py, ort_session.py): the message when it is missing, the GPU
library preload's no-op path, and sessions made from a plan on this CPU-only machine."""

from __future__ import annotations

import logging
import subprocess
import sys
import warnings
from pathlib import Path

import onnxruntime
import pytest

from app.core import ort_runtime
from app.core.ort_runtime import OnnxRuntimeMissing, import_onnxruntime, onnxruntime_problem, preload_gpu_libraries
from app.core.ort_session import create_session
from app.errors import ModelError

CPU = ["CPUExecutionProvider"]
ROOT = Path(__file__).resolve().parents[2]
# Runs before anything else in a child process: `onnxruntime` cannot be imported there, as on a machine where
# it was never installed.
BLOCK = """
import importlib.abc, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == {name!r} or name.startswith({name!r} + "."):
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None
sys.meta_path.insert(0, Block())
"""


def blocked(module: str) -> str:
    return BLOCK.format(name=module)


@pytest.fixture
def fresh_preload() -> object:
    """The preload runs once per process: forget that it ran, before and after the test."""
    ort_runtime._preload_once.cache_clear()
    yield None
    ort_runtime._preload_once.cache_clear()


def test_missing_onnxruntime_is_a_model_error_saying_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # `import onnxruntime` now fails as if never installed
    with pytest.raises(OnnxRuntimeMissing) as err:
        import_onnxruntime()
    assert isinstance(err.value, ModelError) and err.value.exit_code == 3 and err.value.fetch is None
    text = str(err.value)
    assert "is not installed" in text and 'pip install "deep-live-cam[cpu]"' in text and "[gpu]" in text
    assert onnxruntime_problem() == text
    from app.core.providers import choose_providers

    with pytest.raises(OnnxRuntimeMissing):
        choose_providers()


def test_a_model_set_without_onnxruntime_builds_and_each_load_says_so(monkeypatch: pytest.MonkeyPatch,
                                                                      standin_models_dir: Path) -> None:
    """A window makes its engine on the UI thread: that must not raise; loading a model (in a task) does."""
    from app.core.sessions import ModelSet

    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    models = ModelSet(standin_models_dir)
    assert models.providers == CPU and models.runtime_missing is not None
    for role in ("detector", "recognizer", "swapper", "landmarker"):
        with pytest.raises(OnnxRuntimeMissing, match="is not installed"):
            models.load(role)


def test_the_server_refuses_to_start_without_onnxruntime(monkeypatch: pytest.MonkeyPatch,
                                                         standin_models_dir: Path) -> None:
    from app.api.settings import ApiSettings
    from app.api.state import ApiState

    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(OnnxRuntimeMissing):
        ApiState(ApiSettings(models_dir=standin_models_dir))


def test_a_damaged_onnxruntime_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    """What uninstalling one of two builds leaves: a package folder without the runtime in it."""
    import types

    monkeypatch.setitem(sys.modules, "onnxruntime", types.ModuleType("onnxruntime"))
    with pytest.raises(OnnxRuntimeMissing, match="damaged"):
        import_onnxruntime()


def test_installed_onnxruntime_has_no_problem() -> None:
    assert onnxruntime_problem() is None and import_onnxruntime() is onnxruntime


def test_the_cli_without_onnxruntime_exits_3_with_the_message(standin_models_dir: Path,
                                                              photo_files: dict[str, Path], tmp_path: Path) -> None:
    script = blocked("onnxruntime") + (
        "from app.cli import main\n"
        f"sys.exit(main(['swap', {str(photo_files['astronaut'])!r}, {str(photo_files['t1'])!r}, '-o', "
        f"{str(tmp_path / 'out.png')!r}, '--models-dir', {str(standin_models_dir)!r}]))\n")
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 3, done.stderr
    assert "Traceback" not in done.stderr
    assert 'onnxruntime, which runs the models, is not installed' in done.stderr
    assert 'pip install "deep-live-cam[cpu]"' in done.stderr
    assert not (tmp_path / "out.png").exists()
    # commands that need no model still work (listing and fetching models)
    listing = subprocess.run([sys.executable, "-c", blocked("onnxruntime") + "from app.cli import main\n"
                              f"sys.exit(main(['models', '--models-dir', {str(tmp_path)!r}, 'list']))\n"],
                             cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert listing.returncode == 0 and "inswapper_128.onnx" in listing.stdout, listing.stderr


def test_preload_is_a_no_op_without_a_cuda_provider(monkeypatch: pytest.MonkeyPatch, fresh_preload: object) -> None:
    calls: list[object] = []
    monkeypatch.setattr(onnxruntime, "preload_dlls", lambda *a, **k: calls.append(a), raising=False)
    assert preload_gpu_libraries(CPU) is False
    assert preload_gpu_libraries(["CoreMLExecutionProvider", "CPUExecutionProvider"]) is False
    assert calls == []


def test_preload_does_nothing_on_onnxruntimes_cpu_build(monkeypatch: pytest.MonkeyPatch, fresh_preload: object,
                                                        caplog: pytest.LogCaptureFixture) -> None:
    """Asked for CUDA on a build that has none (this machine): nothing to load, nothing said, nothing raised."""
    assert "CUDAExecutionProvider" not in onnxruntime.get_available_providers()
    calls: list[object] = []
    monkeypatch.setattr(onnxruntime, "preload_dlls", lambda *a, **k: calls.append(a), raising=False)
    with caplog.at_level(logging.INFO, logger="app.core.ort_runtime"):
        assert preload_gpu_libraries(["CUDAExecutionProvider", "CPUExecutionProvider"]) is False
    assert calls == [] and not caplog.records


def test_preload_runs_once_and_is_never_fatal(monkeypatch: pytest.MonkeyPatch, fresh_preload: object,
                                              caplog: pytest.LogCaptureFixture) -> None:
    """On a CUDA build (a stand-in for one here: the provider listed, preload_dlls recorded) it runs once, with
    one log line; when the libraries cannot be loaded it warns and goes on."""
    calls: list[object] = []

    def preload(*args: object, **kwargs: object) -> None:
        print("a note onnxruntime prints")  # noqa: T201 - preload_dlls prints; it must end up in the log
        calls.append(args)

    monkeypatch.setattr(onnxruntime, "get_available_providers", lambda: ["CUDAExecutionProvider", *CPU])
    monkeypatch.setattr(onnxruntime, "preload_dlls", preload, raising=False)
    with caplog.at_level(logging.INFO, logger="app.core.ort_runtime"):
        assert preload_gpu_libraries(["CUDAExecutionProvider", *CPU]) is True
        assert preload_gpu_libraries(["TensorrtExecutionProvider", "CUDAExecutionProvider", *CPU]) is True
    assert len(calls) == 1
    lines = [r.getMessage() for r in caplog.records if "preloaded" in r.getMessage()]
    assert len(lines) == 1 and "a note onnxruntime prints" in lines[0]

    ort_runtime._preload_once.cache_clear()

    def failing(*args: object, **kwargs: object) -> None:
        raise OSError("libcudnn.so.9: cannot open shared object file")

    monkeypatch.setattr(onnxruntime, "preload_dlls", failing, raising=False)
    with caplog.at_level(logging.WARNING, logger="app.core.ort_runtime"):
        assert preload_gpu_libraries(["CUDAExecutionProvider", *CPU]) is False
    assert "could not preload" in caplog.text and "libcudnn" in caplog.text


def test_a_session_that_cannot_start_its_gpu_providers_says_so(standin_models_dir: Path, tmp_path: Path,
                                                               caplog: pytest.LogCaptureFixture) -> None:
    """TensorRT and CUDA asked for on onnxruntime's CPU build: the session runs on the CPU, the log says so once,
    TensorRT's cache folders are made and its first build announced (no 'built' line: it never ran)."""
    path = standin_models_dir / "buffalo_l" / "w600k_r50.onnx"
    asked = ["TensorrtExecutionProvider", "CUDAExecutionProvider", *CPU]
    with caplog.at_level(logging.INFO), pytest.warns(UserWarning, match="not in available provider names"):
        session, plan = create_session(path, asked, "fp16", cache_root=tmp_path / "cache")
    assert session.get_providers() == CPU
    assert plan.trt is not None and plan.trt.engine_dir.is_dir() and plan.trt.timing_dir.is_dir()
    assert plan.options_for("TensorrtExecutionProvider")["trt_fp16_enable"] == "True"
    assert "TensorRT is building its engine for w600k_r50.onnx" in caplog.text and " built " not in caplog.text
    assert "could not start TensorrtExecutionProvider, CUDAExecutionProvider" in caplog.text


def test_a_cpu_session_is_plain(standin_models_dir: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        session, plan = create_session(standin_models_dir / "inswapper_128.onnx", CPU, "fp32", fixed_shape=True)
    assert session.get_providers() == CPU and plan.trt is None and not plan.cuda_graph
    assert not caplog.records


def test_a_damaged_file_raises_what_onnxruntime_raises(tmp_path: Path) -> None:
    path = tmp_path / "broken.onnx"
    path.write_bytes(b"not a model" * 10)
    with warnings.catch_warnings(), pytest.raises(Exception, match="(?i)protobuf|parse|load"):
        warnings.simplefilter("ignore", UserWarning)  # CUDA is not in this build: onnxruntime warns, then fails
        create_session(path, ["CUDAExecutionProvider", *CPU], "fp32")
