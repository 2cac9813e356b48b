"""IO binding (app/core/ort_binding.py) on the CPU execution provider: the same code path the GPU runs with device
buffers, here with host buffers, equal to plain session runs; and the replay check that guards a CUDA graph."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from app.core import ort_models
from app.core.ort_binding import BoundRun, binding_device, replay_problem
from app.core.ort_session import create_session
from app.core.sessions import ModelSet
from app.core.swap import align_crop, swap_crop
from tests.standins import photos

CPU = ["CPUExecutionProvider"]


def swappers(path: Path) -> tuple[ort_models.OrtSwapper, ort_models.OrtSwapper]:
    """The bound swapper and a plain one over the same session."""
    bound = ort_models.load(path, "swapper", CPU, "fp32")
    plain = ort_models.OrtSwapper(path, bound.session, bound.emap, bind=False)
    assert bound.bound is not None and plain.bound is None
    return bound, plain


def t1_crops() -> list[np.ndarray]:
    scene = photos.t1()
    return [align_crop(scene.image, f.points, 128)[0] for f in scene.faces]


def latents(emap: np.ndarray, n: int) -> list[np.ndarray]:
    rng = np.random.default_rng(7)
    out = []
    for _ in range(n):
        v = rng.standard_normal((1, emap.shape[0])).astype(np.float32) @ emap.astype(np.float32)
        out.append((v / np.linalg.norm(v)).astype(np.float32))
    return out


def half_io_standin(src: Path, dst: Path) -> Path:
    """The stand-in inswapper taking float16 target and source (as an fp16 export may): the inputs are renamed
    float16 graph inputs cast to float for the unchanged rest of the graph."""
    model = onnx.load(str(src))
    g = model.graph
    for value in g.input:
        if value.name in ("target", "source"):
            value.type.tensor_type.elem_type = TensorProto.FLOAT16
            for node in g.node:
                node.input[:] = [f"{value.name}32" if i == value.name else i for i in node.input]
            g.node.insert(0, helper.make_node("Cast", [value.name], [f"{value.name}32"], to=TensorProto.FLOAT))
    onnx.save(model, str(dst))
    return dst


@pytest.fixture(scope="module")
def files(standin_models_dir: Path, conv_inswapper_file: Path, tmp_path_factory: pytest.TempPathFactory
          ) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("half_io")
    return {"inverting": standin_models_dir / "inswapper_128.onnx", "convolutional": conv_inswapper_file,
            "float16 inputs": half_io_standin(standin_models_dir / "inswapper_128.onnx", folder / "half.onnx")}


@pytest.mark.parametrize("name", ["inverting", "convolutional", "float16 inputs"])
def test_bound_swaps_equal_plain_runs(files: dict[str, Path], name: str) -> None:
    bound, plain = swappers(files[name])
    assert binding_device(bound.session) == ("cpu", 0)
    if name == "float16 inputs":
        assert bound.input_types == [np.float16, np.float16]
        assert [s.dtype for s in bound.bound.inputs] == [np.float16, np.float16]  # type: ignore[union-attr]
    for crop, latent in zip(t1_crops(), latents(bound.emap, 6), strict=True):
        got = bound.swap_crop(crop, latent)
        np.testing.assert_array_equal(got, plain.swap_crop(crop, latent))
        np.testing.assert_array_equal(got, swap_crop(plain, crop, latent))  # the engine's generic path
        np.testing.assert_array_equal(bound.run(bound.blob(crop), latent), plain.run(plain.blob(crop), latent))


def test_results_are_copies_not_the_bound_buffer(files: dict[str, Path]) -> None:
    bound, _ = swappers(files["convolutional"])
    crops, lats = t1_crops(), latents(bound.emap, 2)
    first = bound.swap_crop(crops[0], lats[0])
    kept = first.copy()
    bound.swap_crop(crops[1], lats[1])
    np.testing.assert_array_equal(first, kept)


def test_bound_swaps_from_many_threads_equal_plain_runs(files: dict[str, Path]) -> None:
    """The buffers are shared: calls from several threads (a live worker and a photo job) must not mix."""
    bound, plain = swappers(files["convolutional"])
    crops, lats = t1_crops(), latents(bound.emap, 6)
    expected = [plain.swap_crop(c, lat) for c, lat in zip(crops, lats, strict=True)]
    wrong: list[int] = []

    def work(offset: int) -> None:
        for k in range(12):
            i = (offset + k) % len(crops)
            if not np.array_equal(bound.swap_crop(crops[i], lats[i]), expected[i]):
                wrong.append(i)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not wrong


def test_the_model_set_swaps_through_binding(standin_models_dir: Path) -> None:
    swapper = ModelSet(standin_models_dir, CPU).swapper
    assert isinstance(swapper, ort_models.OrtSwapper) and swapper.bound is not None


def test_replay_check_passes_a_faithful_run(files: dict[str, Path]) -> None:
    bound, _ = swappers(files["convolutional"])
    crops, lats = t1_crops(), latents(bound.emap, 2)
    first = (bound.blob(crops[0]), lats[0])
    second = (bound.blob(crops[1]), lats[1])
    assert bound.bound is not None
    assert replay_problem(bound.bound, first, second) is None


class StaleReplay(BoundRun):
    """What a CUDA graph captured over the wrong buffers does (it cannot be made to happen on the CPU): every
    run after the first repeats the first one's output, whatever the inputs."""

    def run(self, *arrays: np.ndarray) -> list[np.ndarray]:
        if not hasattr(self, "_first"):
            self._first = super().run(*arrays)
        return [a.copy() for a in self._first]


class NaNOutput(BoundRun):
    def run(self, *arrays: np.ndarray) -> list[np.ndarray]:
        return [np.full_like(a, np.nan) for a in super().run(*arrays)]


@pytest.mark.parametrize(("runner", "reason"), [(StaleReplay, "stale input buffers"), (NaNOutput, "not finite")])
def test_replay_check_catches_a_broken_run(files: dict[str, Path], runner: type[BoundRun], reason: str) -> None:
    bound, _ = swappers(files["convolutional"])
    assert bound.bound is not None
    broken = runner(bound.session, bound.bound.inputs, bound.bound.outputs, "cpu")
    crops, lats = t1_crops(), latents(bound.emap, 2)
    problem = replay_problem(broken, (bound.blob(crops[0]), lats[0]), (bound.blob(crops[1]), lats[1]))
    assert problem is not None and reason in problem


def test_providers_without_device_buffers_run_the_plain_way(standin_models_dir: Path) -> None:
    session, _ = create_session(standin_models_dir / "inswapper_128.onnx", CPU, "fp32", fixed_shape=True)

    class OtherProvider:  # what a DirectML or CoreML session reports
        def __getattr__(self, name: str) -> object:
            return getattr(session, name)

        def get_providers(self) -> list[str]:
            return ["DmlExecutionProvider", "CPUExecutionProvider"]

    assert binding_device(OtherProvider()) is None
    swapper = ort_models.OrtSwapper("inswapper_128.onnx", OtherProvider(), np.eye(512, dtype=np.float32))
    assert swapper.bound is None
