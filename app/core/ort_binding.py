"""IO binding: a fixed-shape session's inputs and outputs bound once to OrtValues on the session's device.

Each call copies the new inputs into the same device buffers (`update_inplace`), runs, and copies the outputs
back: nothing is allocated per call, and the buffers' addresses never change, which is what lets onnxruntime
replay a captured CUDA graph (`enable_cuda_graph`, `trt_cuda_graph_enable`). A session with a CUDA graph must
only ever run this way: a plain `run` would be captured with its own, temporary buffers. On the CPU the same
code path runs with OrtValues in host memory (tests compare it with the plain path there).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from app.core.ort_runtime import import_onnxruntime

GPU_PROVIDERS = ("CUDAExecutionProvider", "TensorrtExecutionProvider")
REPLAY_ATOL = 1e-3  # the same input replayed must give the same output (to float noise)


@dataclass(frozen=True)
class TensorSpec:
    """One bound input or output: its name, fixed shape and element type."""

    name: str
    shape: tuple[int, ...]
    dtype: type[np.generic]


def binding_device(session: Any) -> tuple[str, int] | None:
    """Where the session's bound buffers live: ('cuda', id) for CUDA/TensorRT, ('cpu', 0) for the CPU, None for
    providers whose device buffers onnxruntime's Python API does not hand out alike (DirectML, CoreML: those run
    the plain way, onnxruntime copying as needed)."""
    provider = session.get_providers()[0]
    if provider in GPU_PROVIDERS:
        options = session.get_provider_options().get(provider, {})
        return "cuda", int(options.get("device_id", 0) or 0)
    if provider == "CPUExecutionProvider":
        return "cpu", 0
    return None


def element_type(onnx_type: str) -> type[np.generic]:
    """numpy's type for onnxruntime's 'tensor(float16)' etc. (the swapper's files take float or float16)."""
    return np.float16 if "float16" in onnx_type else np.float32


class BoundRun:
    """Runs `session` on bound buffers: `run(*inputs)` -> outputs (host copies, safe to keep). Thread-safe: the
    buffers are shared, so one call at a time."""

    def __init__(self, session: Any, inputs: Sequence[TensorSpec], outputs: Sequence[TensorSpec], device: str,
                 device_id: int = 0) -> None:
        ort = import_onnxruntime()
        self.session = session
        self.device = device
        self.inputs, self.outputs = tuple(inputs), tuple(outputs)
        self._lock = threading.Lock()

        def buffer(spec: TensorSpec) -> Any:
            return ort.OrtValue.ortvalue_from_shape_and_type(list(spec.shape), spec.dtype, device, device_id)

        self._in = [buffer(s) for s in self.inputs]
        self._out = [buffer(s) for s in self.outputs]
        self._binding = session.io_binding()
        for spec, value in zip(self.inputs, self._in, strict=True):
            self._binding.bind_ortvalue_input(spec.name, value)
        for spec, value in zip(self.outputs, self._out, strict=True):
            self._binding.bind_ortvalue_output(spec.name, value)

    def run(self, *arrays: np.ndarray) -> list[np.ndarray]:
        with self._lock:
            for spec, value, array in zip(self.inputs, self._in, arrays, strict=True):
                value.update_inplace(np.ascontiguousarray(np.asarray(array, dtype=spec.dtype).reshape(spec.shape)))
            self.session.run_with_iobinding(self._binding)
            if self.device != "cpu":
                self._binding.synchronize_outputs()
            # a copy: the next call overwrites the bound buffer
            return [np.array(value.numpy(), copy=True) for value in self._out]


def replay_problem(run: BoundRun, first: Sequence[np.ndarray], second: Sequence[np.ndarray]) -> str | None:
    """Why the bound runs cannot be trusted (None: they can): `first`, `second`, then `first` again must give
    finite outputs, the same output for the same input (a captured CUDA graph replays), and a different one for
    a different input (the graph reads the updated buffers, not stale ones)."""
    a = run.run(*first)
    b = run.run(*second)
    again = run.run(*first)
    if not all(np.isfinite(x.astype(np.float32)).all() for x in (*a, *b)):
        return "its outputs are not finite"
    if not all(np.allclose(x, y, atol=REPLAY_ATOL) for x, y in zip(a, again, strict=True)):
        return "the same input gave a different output when run again"
    if all(np.allclose(x, y, atol=REPLAY_ATOL) for x, y in zip(a, b, strict=True)):
        return "a different input gave the same output (stale input buffers)"
    return None
