from __future__ import annotations

import logging

import onnxruntime as ort
import pytest

from app.core.providers import choose_providers, parse_provider_list
from app.errors import OptionError


def test_aliases_and_order():
    assert parse_provider_list("cuda, cpu") == ["CUDAExecutionProvider", "CPUExecutionProvider"]
    assert parse_provider_list("TensorRT,dml") == ["TensorrtExecutionProvider", "DmlExecutionProvider"]
    assert parse_provider_list("") is None and parse_provider_list(None) is None
    with pytest.raises(OptionError, match="unknown execution provider 'gpu'"):
        parse_provider_list("gpu")


def test_choice_falls_back_to_cpu_and_says_so(caplog):
    available = ort.get_available_providers()
    assert choose_providers()[-1] == "CPUExecutionProvider"
    assert all(p in available for p in choose_providers())
    with caplog.at_level(logging.WARNING):
        chosen = choose_providers(["TensorrtExecutionProvider"]) if "TensorrtExecutionProvider" not in available \
            else choose_providers(["CPUExecutionProvider"])
    assert chosen[-1] == "CPUExecutionProvider"
    if "TensorrtExecutionProvider" not in available:
        assert chosen == ["CPUExecutionProvider"]
        assert "not available in this onnxruntime build" in caplog.text


def test_loaded_models_report_their_provider(standin_models_dir):
    from app.core.sessions import ModelSet

    models = ModelSet(standin_models_dir, ["CPUExecutionProvider"])
    _ = models.detector, models.swapper
    assert models.loaded_providers() == {"detector": ["CPUExecutionProvider"], "swapper": ["CPUExecutionProvider"]}


def test_automatic_choice_leaves_tensorrt_out_without_its_libraries(monkeypatch: pytest.MonkeyPatch,
                                                                    caplog: pytest.LogCaptureFixture) -> None:
    """onnxruntime-gpu lists TensorRT whether or not its libraries are installed (a GPU build cannot run here:
    its list is given); without them every session would fail over noisily, so `auto` skips it."""
    from app.core import ort_runtime, providers

    gpu_build = ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"]
    monkeypatch.setattr(providers, "available_providers", lambda: list(gpu_build))
    monkeypatch.setattr(providers, "tensorrt_usable", lambda: False)
    with caplog.at_level(logging.INFO):
        assert choose_providers() == ["CUDAExecutionProvider", "CPUExecutionProvider"]
    assert "pip install tensorrt" in caplog.text
    assert choose_providers(["TensorrtExecutionProvider", "CPUExecutionProvider"])[0] == "TensorrtExecutionProvider"
    monkeypatch.setattr(providers, "tensorrt_usable", lambda: True)
    assert choose_providers() == gpu_build
    assert ort_runtime.tensorrt_usable() is False  # this machine: no TensorRT anywhere
