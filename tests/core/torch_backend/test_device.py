"""Device choice, the no-torch path, and the fixed-shape runner's CPU path."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from app.core.torch_backend.device import gpu_available, pick_device, supports_graph_capture, torch_importable
from app.core.torch_backend.runner import FixedShapeRunner
from app.errors import OptionError

ROOT = Path(__file__).resolve().parents[3]


def test_cpu_and_auto_devices() -> None:
    assert pick_device("cpu") == torch.device("cpu")
    auto = pick_device("auto")
    assert auto.type in ("cuda", "mps", "cpu")
    assert (auto.type != "cpu") == gpu_available()
    assert torch_importable()
    assert not supports_graph_capture(torch.device("cpu")) and not supports_graph_capture(torch.device("mps"))


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a CUDA GPU")
def test_missing_gpu_is_an_option_error() -> None:
    for name in ("cuda", "cuda:1", "rocm"):
        with pytest.raises(OptionError, match="no CUDA/ROCm GPU"):
            pick_device(name)


def test_unknown_device_is_an_option_error() -> None:
    with pytest.raises(OptionError, match="unknown torch device 'tpu'"):
        pick_device("tpu")


def test_without_torch_nothing_breaks_and_loading_says_why(tmp_path: Path) -> None:
    code = (
        "import sys; sys.modules['torch'] = None\n"
        "from app.core.torch_backend import TorchUnavailable, load_swapper, load_restorer\n"
        "from app.core.torch_backend.device import gpu_available, torch_importable\n"
        "assert not torch_importable() and not gpu_available()\n"
        "for load in (load_swapper, load_restorer):\n"
        "    try:\n"
        "        load('x')\n"
        "    except TorchUnavailable as exc:\n"
        "        print(exc.exit_code, exc)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 2
    assert all(line.startswith("3 The torch backend needs PyTorch") and "deep-live-cam[torch]" in line
               for line in lines)
    # and each fallback said so once in the log (logging's last-resort handler writes warnings to stderr)
    assert done.stderr.count("runs on onnxruntime instead") == 2


def test_runner_on_the_cpu_is_the_function_without_capture() -> None:
    calls = []

    def double(x: torch.Tensor) -> torch.Tensor:
        calls.append(torch.is_grad_enabled())
        return x * 2

    runner = FixedShapeRunner(double, torch.device("cpu"), capture=True)
    assert not runner.capture
    out = runner(torch.ones(2, 3))
    assert torch.equal(out, torch.full((2, 3), 2.0)) and calls == [False]
    out += 1  # an ordinary tensor: the caller may update it in place
    assert runner.captured_signatures == []
