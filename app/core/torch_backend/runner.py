"""Running a network at fixed shapes, captured as CUDA graphs where the device has them.

`FixedShapeRunner(fn, device, capture)` is called like `fn`. Without capture (CPU, MPS, or capture off) it is
`fn` without autograd: the CPU path is the same code minus the capture. (`no_grad`, not `inference_mode`: the
outputs are ordinary tensors, so the caller may update them in place, e.g. when pasting on the device.) With
capture (CUDA and ROCm devices) the first call at each input signature (shapes and dtypes) warms `fn` up on a
side stream and records it into a CUDA graph; later calls copy the inputs into the graph's static tensors,
replay it, and return copies of its outputs (the static outputs are overwritten by the next replay). A capture
that fails (something in `fn` syncs with the host) is logged once and that signature runs uncaptured from then
on.

Graphs are captured with `capture_error_mode="thread_local"`, so another thread using the GPU meanwhile (the
background detector) does not invalidate a capture. A replay writes into the graph's static tensors, so calls of
one runner from several threads take turns (a lock); different runners run independently.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

log = logging.getLogger(__name__)

Signature = tuple[tuple[tuple[int, ...], torch.dtype], ...]


@dataclass
class _Captured:
    graph: Any  # torch.cuda.CUDAGraph
    inputs: list[Tensor]
    outputs: Any


def _copy_out(value: Any) -> Any:
    if isinstance(value, Tensor):
        return value.clone()
    if isinstance(value, list | tuple):
        return type(value)(_copy_out(v) for v in value)
    return value


class FixedShapeRunner:
    """`fn(*tensors)` with one CUDA graph per input signature when `capture` is on (see the module doc)."""

    def __init__(self, fn: Callable[..., Any], device: torch.device, capture: bool, name: str = "model",
                 max_graphs: int = 8, warmup: int = 2) -> None:
        self.fn, self.device, self.name = fn, device, name
        self.capture = bool(capture) and device.type == "cuda"
        self.max_graphs, self.warmup = max_graphs, warmup
        self._graphs: dict[Signature, _Captured | None] = {}
        self._pool: Any = None
        self._lock = threading.Lock()

    @property
    def captured_signatures(self) -> list[Signature]:
        return [k for k, v in self._graphs.items() if v is not None]

    def __call__(self, *inputs: Tensor) -> Any:
        if not self.capture:
            with torch.no_grad():
                return self.fn(*inputs)
        key: Signature = tuple((tuple(t.shape), t.dtype) for t in inputs)
        with self._lock:
            if key not in self._graphs:
                self._graphs[key] = self._record(inputs) if len(self._graphs) < self.max_graphs else None
            captured = self._graphs[key]
            if captured is not None:
                for static, given in zip(captured.inputs, inputs, strict=True):
                    static.copy_(given, non_blocking=True)
                captured.graph.replay()
                return _copy_out(captured.outputs)
        with torch.no_grad():
            return self.fn(*inputs)

    def _record(self, inputs: tuple[Tensor, ...]) -> _Captured | None:
        cuda = torch.cuda
        try:
            static = [t.detach().clone() for t in inputs]
            side = cuda.Stream(self.device)  # type: ignore[no-untyped-call]
            side.wait_stream(cuda.current_stream(self.device))
            with cuda.stream(side), torch.no_grad():
                for _ in range(self.warmup):
                    self.fn(*static)
            cuda.current_stream(self.device).wait_stream(side)
            if self._pool is None:
                self._pool = cuda.graph_pool_handle()
            graph = cuda.CUDAGraph()
            with torch.no_grad(), cuda.graph(graph, pool=self._pool, capture_error_mode="thread_local"):
                outputs = self.fn(*static)
            graph.replay()  # a first replay proves the graph runs before anyone relies on it
            cuda.current_stream(self.device).synchronize()
        except Exception as exc:  # capture refuses host syncs and a few ops; the model still runs uncaptured
            log.warning("%s: CUDA graph capture failed at %s (%s); running it uncaptured",
                        self.name, [tuple(t.shape) for t in inputs], exc)
            return None
        log.info("%s: captured a CUDA graph for inputs %s", self.name, [tuple(t.shape) for t in inputs])
        return _Captured(graph, static, outputs)
