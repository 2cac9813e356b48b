"""Creating one onnxruntime session the way `ort_options.plan_session` says, with the GPU's fallbacks.

- CUDA/cuDNN are preloaded from the pip wheels before the first CUDA or TensorRT session.
- TensorRT's first engine build for a model file is announced (it takes minutes, once) and timed. It runs
  where the model is loaded, which is off the UI thread: the GUI loads models in its task threads (a swap, a
  live start, the restorer's preparation), the server at start-up, the CLI before its first frame.
- A CUDA graph that cannot be captured (a node onnxruntime keeps on the CPU) is dropped, said once.
- A session that cannot start on the GPU providers but can on the CPU runs there, said once: a GPU problem
  (memory, a driver, a TensorRT build error) must not read as a damaged model file.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from app.core.ort_options import CPU, TENSORRT, SessionPlan, plan_session
from app.core.ort_runtime import check_providers_taken, import_onnxruntime, preload_gpu_libraries
from app.models.manifest import ModelFile

log = logging.getLogger(__name__)


def session_options(plan: SessionPlan | None = None) -> Any:
    """Per-session options: onnxruntime warns about every unused initializer (inswapper's emap is one, by
    design), so these sessions log errors only."""
    ort = import_onnxruntime()
    options = ort.SessionOptions()
    options.log_severity_level = 3
    if plan is not None and not plan.mem_pattern:
        options.enable_mem_pattern = False
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    return options


def create_session(path: Path, providers: list[str], precision: str, *, entry: ModelFile | None = None,
                   fixed_shape: bool = False, cuda_graph: bool = True, cache_root: Path | None = None,
                   warm_up: Callable[[Any], None] | None = None) -> tuple[Any, SessionPlan]:
    """An InferenceSession over `path` and the plan it was made with. `warm_up(session)` runs once right after,
    within TensorRT's first-build announcement (a model whose input shape is known only at run time builds its
    engine then).
    Raises what onnxruntime raises when the file cannot be loaded even on the CPU (the caller words it as a
    ModelError)."""
    ort = import_onnxruntime()
    path = Path(path)
    preload_gpu_libraries(providers)
    plan = plan_session(providers, precision, path, entry=entry, fixed_shape=fixed_shape, cuda_graph=cuda_graph,
                        cache_root=cache_root)
    try:
        return _open_announced(ort, path, plan, warm_up), plan
    except Exception as exc:
        error = exc
    if plan.cuda_graph:
        log.warning("%s: no CUDA graph (%s: %s); it runs without one", path.name, type(error).__name__, error)
        plan = plan_session(providers, precision, path, entry=entry, fixed_shape=fixed_shape, cuda_graph=False,
                            cache_root=cache_root)
        try:
            return _open_announced(ort, path, plan, warm_up), plan
        except Exception as exc:
            error = exc
    if list(plan.providers) == [CPU]:
        raise error
    try:
        session = ort.InferenceSession(str(path), sess_options=session_options(), providers=[CPU])
    except Exception:
        raise error from None  # the CPU cannot load it either: the file itself is at fault
    log.warning("%s could not start on %s (%s: %s); it runs on the CPU", path.name,
                ", ".join(p for p in plan.providers if p != CPU), type(error).__name__, error)
    if warm_up is not None:
        warm_up(session)
    return session, plan_session([CPU], precision, path)


def _open_announced(ort: Any, path: Path, plan: SessionPlan, warm_up: Callable[[Any], None] | None) -> Any:
    """The session, with TensorRT's first engine build for this model file announced (minutes, once) and timed:
    it happens while the session is made and, for a model whose input shape is known only at run time, during
    `warm_up`."""
    announce = plan.trt is not None and plan.trt.first_build
    if plan.trt is not None:
        plan.trt.engine_dir.mkdir(parents=True, exist_ok=True)
        plan.trt.timing_dir.mkdir(parents=True, exist_ok=True)
    if announce:
        assert plan.trt is not None
        log.warning("TensorRT is building its engine for %s: the first start with this model file and these "
                    "onnxruntime/TensorRT versions takes a few minutes, once; later starts reuse it from %s",
                    path.name, plan.trt.engine_dir)
    started = time.perf_counter()
    session = ort.InferenceSession(str(path), sess_options=session_options(plan), providers=list(plan.providers),
                                   provider_options=[dict(o) for o in plan.provider_options])
    if warm_up is not None:
        warm_up(session)
    if announce and TENSORRT in session.get_providers():
        log.warning("TensorRT's engine for %s is built (%.0f s) and cached", path.name, time.perf_counter() - started)
    check_providers_taken(session, plan.providers, path.name)
    return session
