"""The engine on the torch backend with the frame kept on the device (here: torch on the CPU), against the
onnxruntime engine on the same stand-ins; choosing the backend and precision; the onnxruntime fp16 guard."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from app.core import backends
from app.core.engine import Engine
from app.core.options import EngineOptions, RestoreOptions, SwapOptions
from app.core.processor import FrameProcessor
from app.core.sessions import ModelSet
from app.errors import OptionError
from tests.standins import photos
from tests.standins.inswapper import build_inswapper

CPU = ["CPUExecutionProvider"]


@pytest.fixture(scope="module")
def engines(standin_models_dir: Path) -> tuple[Engine, Engine]:
    return (Engine(ModelSet(standin_models_dir, CPU)),
            Engine(ModelSet(standin_models_dir, CPU, EngineOptions(backend="torch"))))


def far(image: np.ndarray, scene: photos.Scene) -> np.ndarray:
    mask = np.ones(image.shape[:2], bool)
    for face in scene.faces:
        x0, y0, x1, y1 = (int(v) for v in face.box)
        w, h = x1 - x0, y1 - y0
        mask[max(0, y0 - h):y1 + h, max(0, x0 - w):x1 + w] = False
    return mask


@pytest.mark.parametrize("options", [
    SwapOptions(),
    SwapOptions(mask="box", blend=0.7, face_scale=1.2, color_correction=False),
    SwapOptions(mask="hull", mouth_mask=True),
    SwapOptions(restore=RestoreOptions(strength=0.7)),
], ids=["defaults", "box-blend-scale", "hull-mouth", "restore"])
def test_the_device_path_equals_the_cpu_path(engines: tuple[Engine, Engine], options: SwapOptions) -> None:
    cpu, device = engines
    scene = photos.t1()
    source = photos.astronaut().image
    a = FrameProcessor(cpu).process(scene.image, cpu.prepare_source(source), options)
    b = FrameProcessor(device).process(scene.image, device.prepare_source(source), options)
    assert device.models.on_device("swapper") and device.models.on_device("detector")
    assert len(a.faces) == len(b.faces) == 6
    diff = np.abs(a.frame.astype(int) - b.frame)
    # Restoration: a level of difference in the aligned crop comes out of GFPGAN and the detail filter (CLAHE)
    # as a few levels, here and there; and every face's crop is taken from the frame before the first restored
    # face is pasted (the CPU path aligns each after the one before), which differs where two crops overlap.
    assert diff.max() <= (6 if options.restore else 1) and (diff > 2).sum() < 1e-4 * diff.size, diff.max()
    keep = far(scene.image, scene)
    assert np.array_equal(b.frame[keep], scene.image[keep])  # nothing outside the faces' regions


def test_kept_swaps_paste_where_the_faces_are_now(engines: tuple[Engine, Engine]) -> None:
    """A fluid render's two steps on the device: swap once, paste at the faces' newer positions."""
    cpu, device = engines
    scene = photos.t1()
    moved_image = np.roll(scene.image, 6, axis=1)
    faces_cpu = cpu.detect(scene.image, SwapOptions())
    moved_faces = [f.with_points(f.points + np.float32([6, 0])) for f in faces_cpu]
    out = {}
    for name, engine in (("cpu", cpu), ("device", device)):
        source = engine.prepare_source(photos.astronaut().image)
        swaps = engine.swap_crops(scene.image, faces_cpu, [source] * len(faces_cpu))
        out[name], _, _ = engine.paste_swaps(moved_image, swaps, SwapOptions(), faces=moved_faces)
    assert np.abs(out["cpu"].astype(int) - out["device"]).max() <= 1


def test_auto_is_onnxruntime_without_a_gpu_and_torch_only_when_asked(standin_models_dir: Path) -> None:
    assert backends.resolve(EngineOptions()).backend == "onnxruntime"  # this machine: no GPU torch can use
    assert backends.resolve(EngineOptions(backend="torch")).backend == "torch"
    assert ModelSet(standin_models_dir, CPU).loaded_providers() == {}
    with pytest.raises(OptionError, match="int8 is for the CPU with onnxruntime"):
        backends.resolve(EngineOptions(backend="torch", precision="int8"))
    with pytest.raises(OptionError):
        EngineOptions(backend="tensorflow")  # type: ignore[arg-type]


def test_torch_asked_for_without_torch_runs_on_onnxruntime(monkeypatch: pytest.MonkeyPatch,
                                                           caplog: pytest.LogCaptureFixture) -> None:
    from app.core.torch_backend import device

    monkeypatch.setattr(device, "torch_importable", lambda: False)
    with caplog.at_level(logging.WARNING):
        runtime = backends.resolve(EngineOptions(backend="torch"))
    assert runtime.backend == "onnxruntime" and "PyTorch is not installed" in caplog.text


def test_auto_with_a_gpu_runs_torch_only_when_the_torch_backend_is_installed(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """`.[gpu,convert]` brings torch (for GFPGAN's conversion) without onnx2torch: auto keeps onnxruntime's GPU
    build rather than loading every model on torch only to fall back. The GPU is the one thing faked here."""
    from app.core.torch_backend import device

    monkeypatch.setattr(device, "gpu_available", lambda: True)
    assert backends.resolve(EngineOptions()).backend == "torch"  # onnx2torch is installed in the test env
    monkeypatch.setattr(device, "onnx2torch_importable", lambda: False)
    runtime = backends.resolve(EngineOptions())
    assert runtime.backend == "onnxruntime" and "onnx2torch" in runtime.reason


def test_a_graph_torch_cannot_run_falls_back_to_onnxruntime(standin_models_dir: Path, tmp_path: Path,
                                                           caplog: pytest.LogCaptureFixture) -> None:
    """A swapper whose graph has an op onnx2torch lacks: the torch engine swaps with onnxruntime, said once."""
    models = _copy(standin_models_dir, tmp_path / "models")
    graph = onnx.load(str(models / "inswapper_128.onnx"))
    clip = next(n for n in graph.graph.node if n.op_type == "Clip")
    shrink = helper.make_node("Shrink", [clip.input[0]], ["shrunk"], bias=0.0, lambd=0.0)  # a no-op onnx2torch lacks
    clip.input[0] = "shrunk"
    graph.graph.node.insert(list(graph.graph.node).index(clip), shrink)
    onnx.save(graph, str(models / "inswapper_128.onnx"))
    engine = Engine(ModelSet(models, CPU, EngineOptions(backend="torch")))
    with caplog.at_level(logging.WARNING):
        result = FrameProcessor(engine).process(photos.t1().image, engine.prepare_source(photos.astronaut().image),
                                                SwapOptions())
    assert len(result.faces) == 6 and not engine.models.on_device("swapper")
    assert engine.models.loaded_providers()["swapper"] == CPU
    assert sum("runs on onnxruntime instead" in r.message for r in caplog.records) == 1


def _copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst, symlinks=False)
    return dst


def _fp16_standin(path: Path, overflow: bool) -> Path:
    """The stand-in inswapper computing in fp16 (fp32 in and out, as FaceFusion's export); with `overflow`,
    an intermediate that fp16 cannot hold makes every face black, the failure users report."""
    build_inswapper(path)
    model = onnx.load(str(path))
    g = model.graph
    first = next(n for n in g.node if n.op_type == "Sub")  # 1 - target
    gain = 1e5 if overflow else 1.0
    g.initializer.insert(0, helper.make_tensor("gain16", TensorProto.FLOAT16, [], [gain]))
    nodes = [helper.make_node("Cast", ["target"], ["target16"], to=TensorProto.FLOAT16),
             helper.make_node("Mul", ["target16", "gain16"], ["big16"]),
             helper.make_node("Div", ["big16", "gain16"], ["back16"]),
             helper.make_node("Cast", ["back16"], ["target_rt"], to=TensorProto.FLOAT)]
    first.input[1] = "target_rt"
    for node in reversed(nodes):
        g.node.insert(0, node)
    onnx.save(model, str(path))
    return path


@pytest.mark.parametrize("overflow", [False, True])
def test_onnxruntime_fp16_is_checked_against_fp32_at_load(standin_models_dir: Path, tmp_path: Path,
                                                          caplog: pytest.LogCaptureFixture, overflow: bool) -> None:
    models = _copy(standin_models_dir, tmp_path / "models")
    _fp16_standin(models / "inswapper_128_fp16.onnx", overflow)
    with caplog.at_level(logging.INFO):
        swapper = ModelSet(models, CPU, EngineOptions(precision="fp16")).swapper
    uses_fp16 = Path(swapper.model_file).name == "inswapper_128_fp16.onnx"
    assert uses_fp16 is not overflow
    if overflow:
        assert "fp16 swapper is not used" in caplog.text and "NaN/Inf" in caplog.text


def test_fp16_without_its_file_says_so_and_runs_fp32(standin_models_dir: Path,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        swapper = ModelSet(standin_models_dir, CPU, EngineOptions(precision="fp16")).swapper
    assert Path(swapper.model_file).name == "inswapper_128.onnx" and "inswapper_128_fp16.onnx" in caplog.text


def test_int8_asked_for_before_it_is_built_is_a_model_error(standin_models_dir: Path) -> None:
    from app.core.int8 import Int8NotReady

    with pytest.raises(Int8NotReady) as err:
        _ = ModelSet(standin_models_dir, CPU, EngineOptions(precision="int8")).swapper
    assert err.value.fix == "build" and err.value.exit_code == 3


def test_int8_once_built_and_enabled_is_the_swapper(int8_models_dir: Path) -> None:
    """`--precision int8` on the CPU: the int8 copy `models optimize` built and checked is the one that swaps."""
    from app.core.int8_build import build_int8_swapper

    report = build_int8_swapper(int8_models_dir)
    assert report.enabled, report.summary()
    models = ModelSet(int8_models_dir, CPU, EngineOptions(precision="int8"))
    assert Path(models.swapper.model_file).name == report.model
    engine = Engine(models)
    result = FrameProcessor(engine).process(photos.t1().image, engine.prepare_source(photos.astronaut().image),
                                            SwapOptions())
    assert len(result.faces) == 6


@pytest.mark.parametrize("overflow", [False, True])
def test_tensorrt_fp16_is_checked_against_fp32_on_the_cpu(standin_models_dir: Path, tmp_path: Path,
                                                          caplog: pytest.LogCaptureFixture, overflow: bool) -> None:
    """TensorRT's fp16 engine of the fp32 file is checked against that file on the CPU (on TensorRT both would be
    fp16 kernels); a failing one is replaced by what `load_fp32` builds. (No TensorRT here: an fp16 stand-in
    plays its part.)"""
    from app.core import ort_models
    from app.core.fp16_guard import checked_tensorrt_fp16, tensorrt_fp16

    half = ort_models.load(_fp16_standin(tmp_path / "fp16.onnx", overflow), "swapper", CPU, "fp16")
    reference = ort_models.load(standin_models_dir / "inswapper_128.onnx", "swapper", CPU, "fp32")
    assert not tensorrt_fp16(half) and not tensorrt_fp16(reference)  # CPU sessions
    rebuilt: list[str] = []

    def load_fp32() -> object:
        rebuilt.append("fp32")
        return reference

    with caplog.at_level(logging.INFO):
        chosen = checked_tensorrt_fp16(half, reference, load_fp32)
    assert (chosen is reference) is overflow and rebuilt == (["fp32"] if overflow else [])
    assert ("TensorRT's fp16 swapper is not used" in caplog.text) is overflow
