"""How onnxruntime sessions are set up (app/core/ort_options.py): a pure function, so the GPU choices are tested
here without a GPU: provider options, TensorRT's cache folders and the keys that name them."""

from __future__ import annotations

import dataclasses
import hashlib
import os
from pathlib import Path

import pytest

from app.core.ort_options import (
    CPU,
    CUDA,
    DIRECTML,
    TENSORRT,
    Versions,
    model_key,
    plan_session,
    trt_cache,
)
from app.models import manifest

VERSIONS = Versions("1.24.4", "10.9.0.34")


@pytest.fixture
def model(tmp_path: Path) -> Path:
    path = tmp_path / "models" / "inswapper_128.onnx"
    path.parent.mkdir()
    path.write_bytes(b"model bytes" * 100)
    return path


def entry_for(path: Path, confirmed: bool = True) -> manifest.ModelFile:
    """The manifest's inswapper entry as if `path` were that file (its size; some hash)."""
    return dataclasses.replace(manifest.INSWAPPER, size=path.stat().st_size,
                               sha256=hashlib.sha256(b"the real file").hexdigest(), hash_confirmed=confirmed)


def test_cpu_gets_no_options_and_no_graph(model: Path) -> None:
    plan = plan_session([CPU], "fp32", model, fixed_shape=True)
    assert plan.providers == (CPU,) and plan.provider_options == ({},)
    assert plan.trt is None and not plan.cuda_graph and plan.mem_pattern


def test_cuda_options(model: Path) -> None:
    plan = plan_session([CUDA, CPU], "auto", model, device_id=1)
    assert plan.options_for(CUDA) == {"device_id": "1", "cudnn_conv_algo_search": "HEURISTIC",
                                      "do_copy_in_default_stream": "1"}
    assert plan.options_for(CPU) == {} and not plan.cuda_graph
    graph = plan_session([CUDA, CPU], "fp32", model, fixed_shape=True)  # the swapper: one shape, IO bound
    assert graph.cuda_graph and graph.options_for(CUDA)["enable_cuda_graph"] == "1"
    retry = plan_session([CUDA, CPU], "fp32", model, fixed_shape=True, cuda_graph=False)  # capture failed
    assert not retry.cuda_graph and "enable_cuda_graph" not in retry.options_for(CUDA)


@pytest.mark.parametrize(("precision", "fp16"), [("fp32", False), ("fp16", True), ("auto", True)])
def test_tensorrt_caches_and_precision(model: Path, tmp_path: Path, precision: str, fp16: bool) -> None:
    root = tmp_path / "cache"
    plan = plan_session([TENSORRT, CUDA, CPU], precision, model, cache_root=root, versions=VERSIONS)
    assert plan.trt is not None
    trt = plan.options_for(TENSORRT)
    assert trt["trt_engine_cache_enable"] == "True" and trt["trt_timing_cache_enable"] == "True"
    assert trt["trt_engine_cache_path"] == str(plan.trt.engine_dir)
    assert trt["trt_timing_cache_path"] == str(plan.trt.timing_dir)
    assert trt["trt_fp16_enable"] == ("True" if fp16 else "False")
    assert "trt_cuda_graph_enable" not in trt
    # one folder per onnxruntime/TensorRT version; in it, one per model file and precision, timing shared
    assert plan.trt.engine_dir.parent == plan.trt.timing_dir.parent == root / "ort-1.24.4_trt-10.9.0.34"
    assert plan.trt.engine_dir.name.startswith("inswapper_128-file-")
    assert plan.trt.engine_dir.name.endswith("-fp16" if fp16 else "-fp32")
    # under TensorRT the CUDA provider gets its usual options, never a graph of its own
    assert plan.options_for(CUDA)["cudnn_conv_algo_search"] == "HEURISTIC"
    swapper = plan_session([TENSORRT, CUDA, CPU], precision, model, fixed_shape=True, cache_root=root,
                           versions=VERSIONS)
    assert swapper.options_for(TENSORRT)["trt_cuda_graph_enable"] == "True"
    assert "enable_cuda_graph" not in swapper.options_for(CUDA)


def test_first_build_is_an_empty_folder_and_later_starts_reuse_it(model: Path, tmp_path: Path) -> None:
    root = tmp_path / "cache"
    first = plan_session([TENSORRT, CPU], "fp16", model, cache_root=root, versions=VERSIONS).trt
    assert first is not None and first.first_build and not first.engine_dir.exists()  # planning writes nothing
    first.engine_dir.mkdir(parents=True)
    assert trt_cache(root, VERSIONS, model, None, True).first_build  # made but still empty: nothing built yet
    (first.engine_dir / "TensorrtExecutionProvider_TRTKernel_graph_0.engine").write_bytes(b"engine")
    again = plan_session([TENSORRT, CPU], "fp16", model, cache_root=root, versions=VERSIONS).trt
    assert again is not None and again.engine_dir == first.engine_dir and not again.first_build
    # another precision, another TensorRT, another onnxruntime: built anew
    assert trt_cache(root, VERSIONS, model, None, False).first_build
    for versions in (Versions("1.24.4", "10.10.0.31"), Versions("1.25.0", "10.9.0.34"), Versions("1.24.4", None)):
        other = trt_cache(root, versions, model, None, True)
        assert other.first_build and other.engine_dir.parent != first.engine_dir.parent
    assert trt_cache(root, Versions("1.24.4", None), model, None, True).engine_dir.parent.name == \
        "ort-1.24.4_trt-system"


def test_key_is_the_manifests_hash_for_the_manifests_file(model: Path) -> None:
    """The real file is never read to name its cache: the manifest's confirmed SHA-256 stands for it."""
    entry = entry_for(model)
    assert model_key(model, entry) == f"sha256-{entry.sha256[:16]}"
    before = model_key(model, entry)
    os.utime(model, ns=(1, 1))  # a copy with a new time is still the same file
    assert model_key(model, entry) == before


def test_key_is_size_and_time_for_any_other_file(model: Path) -> None:
    st = model.stat()
    assert model_key(model) == f"file-{st.st_size}-{st.st_mtime_ns}"
    assert model_key(model, entry_for(model, confirmed=False)) == model_key(model)  # no confirmed hash to use
    wrong_size = dataclasses.replace(entry_for(model), size=st.st_size + 1)  # not the manifest's file
    assert model_key(model, wrong_size) == model_key(model)
    os.utime(model, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # edited in place: a new engine
    assert model_key(model) != f"file-{st.st_size}-{st.st_mtime_ns}"


def test_a_replaced_file_gets_its_own_engine_folder(model: Path, tmp_path: Path) -> None:
    """onnxruntime names engines after the graph's structure: a file with the same graph and other weights must
    not find the first one's engine."""
    root = tmp_path / "cache"
    first = trt_cache(root, VERSIONS, model, None, True).engine_dir
    st = model.stat()
    model.write_bytes(b"other weights" * 100)
    os.utime(model, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    assert trt_cache(root, VERSIONS, model, None, True).engine_dir != first


def test_directml_gets_its_device_and_no_memory_pattern(model: Path) -> None:
    plan = plan_session([DIRECTML, CPU], "auto", model, fixed_shape=True)
    assert plan.options_for(DIRECTML) == {"device_id": "0"} and not plan.mem_pattern and not plan.cuda_graph


def test_default_cache_root_is_the_per_user_cache_folder() -> None:
    import platformdirs

    from app.core.ort_options import default_cache_root

    assert default_cache_root() == Path(platformdirs.user_cache_dir("deep-live-cam", appauthor=False)) / "tensorrt"
