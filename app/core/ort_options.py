"""How each onnxruntime session is set up: its providers with their options, and TensorRT's caches.

`plan_session` is a pure function of the providers, the precision, the model file, the runtime versions and
the cache folder (it only looks at the file's size and time and whether its cache folder has anything in it),
so every GPU choice made here is tested on a machine without a GPU.

- CUDA: `cudnn_conv_algo_search` HEURISTIC: cuDNN's heuristics pick each convolution's algorithm at once.
  onnxruntime's default, EXHAUSTIVE, times every algorithm on the first run of each input shape: seconds of
  stall on the first live frames (and again for every new detector size), trial workspaces that can exhaust a
  small card's memory, and for these plain 3x3/7x7 convolutions next to nothing faster in the end.
  `do_copy_in_default_stream`: copies run on the compute stream, ordered with the kernels, which bound device
  inputs rely on. `enable_cuda_graph` only for a fixed-shape model run through IO binding (the swapper).
- TensorRT: without an engine cache it rebuilds every engine on every start (minutes). The engines and the
  timing cache live in a per-user cache folder, one folder per onnxruntime/TensorRT version (an engine is only
  valid for the versions that built it) and, inside, one per model file and precision: onnxruntime names its
  engine files after the graph's structure, not its weights, so a different file with the same graph would
  otherwise reuse a stale engine. A model file is identified without reading it (never hash 550 MB at
  start-up): by the manifest's confirmed SHA-256 when it is the manifest's file (downloads are checked against
  it), else by its size and modification time. fp16 when the precision asks for it (fp16 or auto).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from app.models.manifest import ModelFile

CPU, CUDA, TENSORRT, DIRECTML = ("CPUExecutionProvider", "CUDAExecutionProvider", "TensorrtExecutionProvider",
                                 "DmlExecutionProvider")
TRT_CACHE_FOLDER = "tensorrt"
TIMING_FOLDER = "timing"


@dataclass(frozen=True)
class Versions:
    """What an engine built by TensorRT is valid for."""

    onnxruntime: str
    tensorrt: str | None  # None: not installed from pip (a system TensorRT, whose version we cannot read)

    @property
    def folder(self) -> str:
        return _safe(f"ort-{self.onnxruntime}_trt-{self.tensorrt or 'system'}")


@dataclass(frozen=True)
class TrtCache:
    """Where TensorRT keeps what it built for one model file."""

    engine_dir: Path  # this model file's engines, at this precision
    timing_dir: Path  # TensorRT's timing cache, shared by every model built with these versions
    first_build: bool  # nothing cached yet for this model: TensorRT builds its engine now (minutes, once)


@dataclass(frozen=True)
class SessionPlan:
    """The arguments of one InferenceSession, and what they imply."""

    providers: tuple[str, ...]
    provider_options: tuple[dict[str, str], ...]  # one per provider, in the same order
    trt: TrtCache | None  # TensorRT's caches when TensorRT is among the providers
    cuda_graph: bool  # a CUDA graph was asked for (run the session through IO binding only)
    mem_pattern: bool  # DirectML cannot use onnxruntime's memory patterns

    def options_for(self, provider: str) -> dict[str, str]:
        return self.provider_options[self.providers.index(provider)]


def wants_fp16(precision: str) -> bool:
    """Whether TensorRT may build fp16 kernels: the user asked for fp16, or for auto (the GPU's best)."""
    return precision in ("fp16", "auto")


def model_key(path: Path, entry: ModelFile | None = None) -> str:
    """The model file's identity for the engine cache, found without reading the file: the manifest's
    confirmed SHA-256 when `entry` (the manifest file this path is meant to be) has one and the sizes agree,
    else the file's size and modification time (an edited or replaced file gets a new key)."""
    st = path.stat()
    if entry is not None and entry.hash_confirmed and entry.sha256 and entry.size == st.st_size:
        return f"sha256-{entry.sha256[:16]}"
    return f"file-{st.st_size}-{st.st_mtime_ns}"


def trt_cache(root: Path, versions: Versions, path: Path, entry: ModelFile | None, fp16: bool) -> TrtCache:
    base = Path(root) / versions.folder
    engine_dir = base / _safe(f"{path.stem}-{model_key(path, entry)}-{'fp16' if fp16 else 'fp32'}")
    first = not (engine_dir.is_dir() and any(engine_dir.iterdir()))
    return TrtCache(engine_dir, base / TIMING_FOLDER, first)


def plan_session(providers: list[str] | tuple[str, ...], precision: str, path: Path, *,
                 entry: ModelFile | None = None, fixed_shape: bool = False, cuda_graph: bool = True,
                 cache_root: Path | None = None, versions: Versions | None = None, device_id: int = 0) -> SessionPlan:
    """The providers and their options for the model file `path`. `fixed_shape`: the model always runs at one
    input shape through IO binding (the swapper), so a CUDA graph may capture it (unless `cuda_graph` is
    False: the fallback when capture failed). `cache_root` and `versions` are needed only with TensorRT
    (defaults: the per-user cache folder and what is installed)."""
    path = Path(path)
    graph = fixed_shape and cuda_graph and (CUDA in providers or TENSORRT in providers)
    trt: TrtCache | None = None
    options: list[dict[str, str]] = []
    for provider in providers:
        if provider == TENSORRT:
            trt = trt_cache(cache_root or default_cache_root(), versions or installed_versions(), path, entry,
                            wants_fp16(precision))
            options.append(_tensorrt(trt, wants_fp16(precision), graph, device_id))
        elif provider == CUDA:
            # Under TensorRT the CUDA EP only runs what TensorRT leaves: no graph there (TensorRT captures its own).
            options.append(_cuda(graph and TENSORRT not in providers, device_id))
        elif provider == DIRECTML:
            options.append({"device_id": str(device_id)})
        else:
            options.append({})
    return SessionPlan(tuple(providers), tuple(options), trt, graph, mem_pattern=DIRECTML not in providers)


def _cuda(graph: bool, device_id: int) -> dict[str, str]:
    options = {"device_id": str(device_id), "cudnn_conv_algo_search": "HEURISTIC", "do_copy_in_default_stream": "1"}
    if graph:
        options["enable_cuda_graph"] = "1"
    return options


def _tensorrt(cache: TrtCache, fp16: bool, graph: bool, device_id: int) -> dict[str, str]:
    options = {
        "device_id": str(device_id),
        "trt_engine_cache_enable": "True",
        "trt_engine_cache_path": str(cache.engine_dir),
        "trt_timing_cache_enable": "True",
        "trt_timing_cache_path": str(cache.timing_dir),
        "trt_fp16_enable": "True" if fp16 else "False",
    }
    if graph:
        options["trt_cuda_graph_enable"] = "True"
    return options


def default_cache_root() -> Path:
    """The per-user cache folder for TensorRT's engines (e.g. ~/.cache/deep-live-cam/tensorrt on Linux)."""
    import platformdirs

    from app.models.paths import APP_NAME

    return Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False)) / TRT_CACHE_FOLDER


def installed_versions() -> Versions:
    from app.core.ort_runtime import onnxruntime_version, tensorrt_version

    return Versions(onnxruntime_version(), tensorrt_version())


def _safe(name: str) -> str:
    """A name usable as one folder on every file system."""
    return re.sub(r"[^A-Za-z0-9._+-]", "_", name)
