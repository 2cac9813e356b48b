"""Our onnxruntime model classes for the files the engine runs, so that nothing imports insightface at run time
(insightface requires the CPU `onnxruntime` package, which would land beside onnxruntime-gpu in one package
folder and may hide the GPU providers).

Each computes exactly what insightface's model_zoo class computes (tests/core/test_ort_models.py compares them
with insightface's own on the stand-ins and real photos):
- `OrtSCRFD` (app/core/ort_scrfd.py): det_10g.onnx, `detect` as SCRFD.detect.
- `OrtArcFace`: w600k_r50.onnx, `get_feat` as ArcFaceONNX.get_feat, with its input mean/std decided as
  insightface decides them (from the names of the graph's first nodes).
- `OrtSwapper`: inswapper_128.onnx (or its fp16/int8 copies): the session, `emap` (the graph's last
  initializer), input/output names, input size; `swap_crop` through IO binding where the session's device
  allows it (app/core/ort_binding.py), with a CUDA graph on CUDA/TensorRT.
- `OrtLandmark`: 2d106det.onnx: what app/core/landmarks.py needs (input size, name, mean/std, points).
Which kind a file is follows insightface's ModelRouter (from the graph's inputs and outputs).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt
import onnx
from onnx import numpy_helper

from app.core.ort_binding import BoundRun, TensorSpec, binding_device, element_type, replay_problem
from app.core.ort_scrfd import OrtSCRFD
from app.core.ort_session import create_session
from app.core.types import Frame
from app.models.manifest import ModelFile

log = logging.getLogger(__name__)

Dim = int | str | None
KINDS = {"detector": "a face detector", "recognizer": "a face recognition model", "swapper": "a face swap model",
         "landmarker": "a landmark model", "attribute": "a gender/age model"}


class WrongKind(ValueError):
    """The file is a valid model of another kind (or of none the engine knows)."""

    def __init__(self, found: str | None) -> None:
        super().__init__(KINDS.get(found or "", "no model the engine knows"))
        self.found = found


@dataclass(frozen=True)
class GraphFacts:
    """What loading decides from the ONNX graph itself, read once (the file is not kept in memory)."""

    inputs: tuple[tuple[str, tuple[Dim, ...]], ...]  # graph inputs that are not initializers
    outputs: tuple[tuple[str, tuple[Dim, ...]], ...]
    first_nodes: tuple[str, ...]  # the names of the first 8 nodes (insightface's normalisation test)
    last_initializer: npt.NDArray[Any] | None  # the swapper's emap


def read_graph(path: Path, keep_last_initializer: bool = False) -> GraphFacts:
    """Parse the file (raises onnx's errors for a damaged one)."""
    model = onnx.load(str(path))
    graph = model.graph
    weights = {i.name for i in graph.initializer}

    def dims(value: Any) -> tuple[Dim, ...]:
        shape = value.type.tensor_type.shape.dim
        return tuple(d.dim_value if d.dim_value > 0 else (d.dim_param or None) for d in shape)

    last = numpy_helper.to_array(graph.initializer[-1]) if keep_last_initializer and graph.initializer else None
    facts = GraphFacts(tuple((v.name, dims(v)) for v in graph.input if v.name not in weights),
                       tuple((v.name, dims(v)) for v in graph.output), tuple(n.name for n in graph.node[:8]),
                       None if last is None else np.array(last))
    del model
    return facts


def classify(facts: GraphFacts) -> str | None:
    """The kind of model, as insightface's ModelRouter routes it."""
    if not facts.inputs:
        return None
    shape = facts.inputs[0][1]
    h, w = (shape[2], shape[3]) if len(shape) >= 4 else (None, None)
    if len(facts.outputs) >= 5:
        return "detector"
    if h == 192 and w == 192:
        return "landmarker"
    if h == 96 and w == 96:
        return "attribute"
    if len(facts.inputs) == 2 and h == 128 and w == 128:
        return "swapper"
    if isinstance(h, int) and h == w and h >= 112 and h % 16 == 0:
        return "recognizer"
    return None


def normalisation(facts: GraphFacts, std: float, bn_data: bool = False) -> tuple[float, float]:
    """insightface's guess of a model's input mean and std: a graph that subtracts and multiplies in its first
    nodes (an mxnet export) takes raw pixels (0, 1); else (127.5, `std`)."""
    names = facts.first_nodes
    sub = any(n.startswith(("Sub", "_minus")) for n in names)
    mul = any(n.startswith(("Mul", "_mul")) for n in names)
    if bn_data and "bn_data" in names[:3]:
        sub = mul = True
    return (0.0, 1.0) if sub and mul else (127.5, std)


def _input_size(shape: Sequence[Dim]) -> tuple[int, int]:
    return int(shape[3]), int(shape[2])  # type: ignore[arg-type]  # (width, height), as insightface keeps it


class OrtArcFace:
    """ArcFace (w600k_r50.onnx): `get_feat(crops)` -> [N, 512] embeddings, as ArcFaceONNX.get_feat."""

    taskname = "recognition"

    def __init__(self, model_file: str | Path, session: Any, facts: GraphFacts) -> None:
        self.model_file, self.session = str(model_file), session
        self.input_mean, self.input_std = normalisation(facts, 127.5)
        first = session.get_inputs()[0]
        self.input_name, self.input_shape = first.name, first.shape
        self.input_size = _input_size(first.shape)
        self.output_names = [o.name for o in session.get_outputs()]

    def get_feat(self, imgs: Frame | list[Frame]) -> np.ndarray:
        batch = imgs if isinstance(imgs, list) else [imgs]
        blob = cv2.dnn.blobFromImages(batch, 1.0 / self.input_std, self.input_size,
                                      (self.input_mean, self.input_mean, self.input_mean), swapRB=True)
        out: np.ndarray = self.session.run(self.output_names, {self.input_name: np.ascontiguousarray(blob,
                                                                                                 np.float32)})[0]
        return out


class OrtLandmark:
    """The 106-point landmark model (2d106det.onnx), or any file insightface would load as its Landmark."""

    def __init__(self, model_file: str | Path, session: Any, facts: GraphFacts) -> None:
        self.model_file, self.session = str(model_file), session
        self.input_mean, self.input_std = normalisation(facts, 128.0, bn_data=True)
        first = session.get_inputs()[0]
        self.input_name, self.input_shape = first.name, first.shape
        self.input_size = _input_size(first.shape)
        outputs = session.get_outputs()
        self.output_names = [o.name for o in outputs]
        width = outputs[0].shape[1]
        self.lmk_dim, self.lmk_num = (3, 68) if width == 3309 else (2, int(width) // 2)
        self.taskname = f"landmark_{self.lmk_dim}d_{self.lmk_num}"


class OrtSwapper:
    """inswapper_128 on onnxruntime: `swap_crop(crop, latent)` -> the swapped BGR crop; `run(blob, latent)` ->
    the raw output. Both go through `bound` (IO binding) when the session's device allows it."""

    input_mean, input_std = 0.0, 255.0

    def __init__(self, model_file: str | Path, session: Any, emap: np.ndarray, bind: bool = True) -> None:
        self.model_file, self.session = str(model_file), session
        self.emap = emap
        inputs, outputs = session.get_inputs(), session.get_outputs()
        self.input_names = [i.name for i in inputs]
        self.output_names = [o.name for o in outputs]
        self.input_shape = inputs[0].shape
        self.input_size = _input_size(inputs[0].shape)
        self.input_types = [element_type(i.type) for i in inputs[:2]]  # an fp16 export may take float16
        self.bound: BoundRun | None = self._bind() if bind else None

    def _bind(self) -> BoundRun | None:
        where = binding_device(self.session)
        if where is None:
            return None
        width, height = self.input_size
        target = TensorSpec(self.input_names[0], (1, 3, height, width), self.input_types[0])
        latent = TensorSpec(self.input_names[1], (1, int(self.emap.shape[1])), self.input_types[1])
        out = self.session.get_outputs()[0]
        shape = tuple(out.shape) if all(isinstance(d, int) for d in out.shape) else target.shape  # same size out
        output = TensorSpec(self.output_names[0], shape, element_type(out.type))
        return BoundRun(self.session, [target, latent], [output], *where)

    def blob(self, crop: Frame) -> np.ndarray:
        width, height = self.input_size
        blob = cv2.dnn.blobFromImage(crop, 1.0 / self.input_std, (width, height), (0.0, 0.0, 0.0), swapRB=True)
        return np.ascontiguousarray(blob, dtype=np.float32)

    def run(self, blob: np.ndarray, latent: np.ndarray) -> np.ndarray:
        target, source = blob.astype(self.input_types[0]), latent.astype(self.input_types[1])
        if self.bound is not None:
            return self.bound.run(target, source)[0]
        out: np.ndarray = self.session.run(self.output_names, {self.input_names[0]: target,
                                                               self.input_names[1]: source})[0]
        return out

    def swap_crop(self, crop: Frame, latent: np.ndarray) -> Frame:
        pred = self.run(self.blob(crop), latent)
        rgb = pred[0].astype(np.float32).transpose(1, 2, 0)
        return np.ascontiguousarray(np.clip(255.0 * rgb, 0, 255).astype(np.uint8)[:, :, ::-1])


def load(path: Path, kind: str, providers: list[str], precision: str, *, entry: ModelFile | None = None,
         cache_root: Path | None = None) -> Any:
    """The model of `kind` over `path` on `providers`. WrongKind for a file of another kind; onnx's and
    onnxruntime's own errors for a damaged one."""
    path = Path(path)
    facts = read_graph(path, keep_last_initializer=kind == "swapper")
    found = classify(facts)
    if found != kind:
        raise WrongKind(found)
    if kind == "swapper":
        return _load_swapper(path, facts, providers, precision, entry, cache_root)
    warm_up = None
    if kind == "detector" and "TensorrtExecutionProvider" in providers:
        warm_up = _detector_warm_up  # TensorRT builds a dynamic-shape engine at its first run: during loading
    session, _ = create_session(path, providers, precision, entry=entry, cache_root=cache_root, warm_up=warm_up)
    if kind == "detector":
        shape = facts.inputs[0][1]
        fixed = (int(shape[3]), int(shape[2])) if all(isinstance(d, int) for d in shape[2:4]) else None  # type: ignore[arg-type]
        return OrtSCRFD(path, session, fixed)
    if kind == "recognizer":
        return OrtArcFace(path, session, facts)
    return OrtLandmark(path, session, facts)


def _detector_warm_up(session: Any) -> None:
    from app.core.ort_scrfd import DEFAULT_SIZE

    first = session.get_inputs()[0]
    shape = [d if isinstance(d, int) else s for d, s in zip(first.shape, (1, 3, DEFAULT_SIZE[1], DEFAULT_SIZE[0]),
                                                            strict=False)]
    session.run(None, {first.name: np.zeros(shape, np.float32)})


def _load_swapper(path: Path, facts: GraphFacts, providers: list[str], precision: str, entry: ModelFile | None,
                  cache_root: Path | None) -> OrtSwapper:
    """The swapper; on CUDA/TensorRT with a CUDA graph whose replay is checked on two probe faces at load (a
    capture that failed or reads stale buffers is dropped, said once, and the session made again without)."""
    assert facts.last_initializer is not None
    emap = np.asarray(facts.last_initializer)
    session, plan = create_session(path, providers, precision, entry=entry, fixed_shape=True, cache_root=cache_root)
    swapper = OrtSwapper(path, session, emap)
    if not plan.cuda_graph or swapper.bound is None:
        return swapper
    problem = _replay_check(swapper)
    if problem is None:
        log.info("%s runs through IO binding with a CUDA graph", path.name)
        return swapper
    log.warning("%s: the CUDA graph is not used (%s); it runs without one", path.name, problem)
    session, _ = create_session(path, providers, precision, entry=entry, fixed_shape=True, cuda_graph=False,
                                cache_root=cache_root)
    return OrtSwapper(path, session, emap)


def _replay_check(swapper: OrtSwapper) -> str | None:
    from app.core import probe

    size = swapper.input_size[0]
    crop = probe.face_crop(size)
    first = (swapper.blob(crop).astype(swapper.input_types[0]),
             probe.latent(np.asarray(swapper.emap, np.float32), 0).astype(swapper.input_types[1]))
    second = (swapper.blob(np.ascontiguousarray(crop[:, ::-1])).astype(swapper.input_types[0]),
              probe.latent(np.asarray(swapper.emap, np.float32), 1).astype(swapper.input_types[1]))
    assert swapper.bound is not None
    try:
        return replay_problem(swapper.bound, first, second)
    except Exception as exc:  # the capture itself failed (a node onnxruntime keeps on the CPU)
        return f"{type(exc).__name__}: {exc}"
