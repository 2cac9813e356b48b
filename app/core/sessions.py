"""The one object that owns every model session.

Sessions are created on first use from local files only (never a hub download), on the providers chosen
once for the whole set. Front ends create one `ModelSet` and pass it in; nothing looks models up globally.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from app.core.backends import resolve
from app.core.options import EngineOptions
from app.core.ort_runtime import OnnxRuntimeMissing
from app.core.providers import choose_providers
from app.errors import DLCError, ModelError, OptionError
from app.models import manifest

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class ModelRole:
    """A model the engine uses, and the files that can serve as it (any one will do)."""

    key: str  # also the ModelSet property that loads it
    files: tuple[manifest.ModelFile, ...]
    required: bool  # a plain swap needs it


ROLES = (
    ModelRole("detector", (manifest.DETECTOR,), True),
    ModelRole("recognizer", (manifest.RECOGNIZER,), True),
    ModelRole("swapper", (manifest.INSWAPPER,), True),
    ModelRole("restorer", (manifest.RESTORER_ONNX, manifest.RESTORER_PTH), False),
    ModelRole("landmarker", (manifest.LANDMARK_2D,), False),  # the mouth and face-outline masks
)
ROLE = {r.key: r for r in ROLES}
SWAP_ROLES = ("detector", "recognizer", "swapper")  # what a swap needs
RESTORE_ROLES = ("detector", "restorer")  # what restoring a photo needs


def missing_files_message(paths: Iterable[Path]) -> str:
    names = "\n  ".join(str(p) for p in paths)
    return f"model files missing:\n  {names}"


class ModelSet:
    """Lazily loaded, thread-safe model sessions over one models folder, on the backend the engine options
    resolve to here (app/core/backends.py). On onnxruntime the models are our own classes
    (app/core/ort_models.py), with sessions set up for the providers by app/core/ort_session.py. Without
    onnxruntime installed, creating a ModelSet still succeeds (a window makes its engine on the UI thread) and
    every model load raises OnnxRuntimeMissing (a ModelError saying what to install)."""

    def __init__(self, models_dir: Path, providers: Sequence[str] | None = None,
                 options: EngineOptions | None = None) -> None:
        self.models_dir = Path(models_dir)
        self.options = options or EngineOptions()
        self.runtime = resolve(self.options)
        self.runtime_missing: OnnxRuntimeMissing | None = None
        try:
            self.providers = choose_providers(providers)
        except OnnxRuntimeMissing as exc:
            self.providers, self.runtime_missing = list(providers or ["CPUExecutionProvider"]), exc
        if self.options.precision == "int8" and self.providers[0] != "CPUExecutionProvider":
            raise OptionError("--precision int8 is for the CPU; with a GPU provider use fp16 or auto (or "
                              "--providers cpu)")
        self._lock = threading.Lock()  # guards the two dicts below, never held while a model loads
        self._loaded: dict[str, Any] = {}
        self._load_locks: dict[str, threading.Lock] = {}

    @staticmethod
    def session_options() -> Any:
        """Per-session options (errors only in onnxruntime's log: it warns about inswapper's unused emap)."""
        from app.core.ort_session import session_options

        return session_options()

    def path(self, entry: manifest.ModelFile) -> Path:
        return self.models_dir / entry.relpath

    def present(self, role: str) -> bool:
        """A file that can serve as `role` is in the folder (it may still fail to load)."""
        return any(self.path(f).is_file() for f in ROLE[role].files)

    def require(self, roles: Iterable[str]) -> None:
        """Raise one ModelError naming every missing file the roles need, before any work starts."""
        missing = [ROLE[r] for r in roles if not self.present(r)]
        if missing:
            names = "\n  ".join(" or ".join(str(self.path(f)) for f in r.files) for r in missing)
            keys = tuple(r.files[-1].key for r in missing)
            raise ModelError(f"model files missing:\n  {names}", fetch=keys)

    def load(self, role: str) -> Any:
        """The model serving `role`, loaded now if it is not yet (by the property of that name)."""
        return getattr(self, ROLE[role].key)

    # --- the models -------------------------------------------------------------------------------
    @property
    def detector(self) -> Any:
        """SCRFD over buffalo_l/det_10g.onnx: torch's, or ours on onnxruntime (same detect())."""
        return self._get("detector", self._load_detector)

    @property
    def recognizer(self) -> Any:
        """ArcFace over buffalo_l/w600k_r50.onnx (get_feat, input_size), on onnxruntime."""
        return self._get("recognizer", lambda: self._load_onnx(manifest.RECOGNIZER, "recognizer"))

    @property
    def swapper(self) -> Any:
        """inswapper_128: torch's (swap_crop, swap on device tensors), or ours on onnxruntime (swap_crop through
        IO binding, session, emap), over the fp32, fp16 or int8 file as the precision says."""
        return self._get("swapper", self._load_swapper)

    @property
    def landmarker(self) -> Any:
        """The 106-point landmark model over buffalo_l/2d106det.onnx (for masks), on onnxruntime."""
        return self._get("landmarker", self._load_landmarker)

    @property
    def restorer(self) -> Any:
        """GFPGAN v1.4: torch's from the .pth (restore_crop, restore on device tensors), or an onnxruntime
        session (the ONNX file, or the cached conversion of the .pth)."""
        return self._get("restorer", self._load_restorer)

    def on_device(self, role: str) -> bool:
        """Whether the loaded model of `role` runs on the torch backend (tensors on its device)."""
        return _runs_on_torch(self._loaded.get(role))

    def loaded_providers(self) -> dict[str, list[str]]:
        """What each loaded model really runs on: onnxruntime's providers, or torch and its device."""
        return {key: _runs_on(model) for key, model in list(self._loaded.items())}

    # --- loading ----------------------------------------------------------------------------------
    def is_loaded(self, key: str) -> bool:
        return key in self._loaded

    def _get(self, key: str, load: Callable[[], T]) -> T:
        """The loaded model `key`, loading it first if needed. A loaded model is returned without waiting, and
        loading one model (a restorer conversion can take minutes) never blocks the others. A failed load is
        not remembered: the next call tries again (the user may have fixed the file meanwhile)."""
        model = self._loaded.get(key)
        if model is not None:
            return model  # type: ignore[no-any-return]
        if self.runtime_missing is not None:
            raise self.runtime_missing
        with self._lock:
            key_lock = self._load_locks.setdefault(key, threading.Lock())
        with key_lock:
            loaded: Any = self._loaded.get(key)
            if loaded is None:
                loaded = load()
                log.info("%s runs on %s", key, ", ".join(_runs_on(loaded)))
                with self._lock:
                    self._loaded[key] = loaded
        return loaded  # type: ignore[no-any-return]

    def _load_onnx(self, entry: manifest.ModelFile, kind: str, path: Path | None = None) -> Any:
        from app.core import ort_models

        path = path or self.path(entry)
        if not path.is_file():
            raise ModelError(missing_files_message([path]), fetch=(entry.key,))
        try:
            return ort_models.load(path, kind, self.providers, self.options.precision,
                                   entry=entry if path == self.path(entry) else None)
        except ort_models.WrongKind as exc:
            raise ModelError(f"model file {path} is not a {entry.purpose} model (it loads as {exc}); replace it "
                             "with the right file", fetch=(entry.key,)) from None
        except DLCError:
            raise
        except Exception as exc:  # onnx/onnxruntime raise many types for a damaged file
            raise ModelError(
                f"model file {path} is corrupt or unreadable ({type(exc).__name__}); delete it and download it "
                "again", fetch=(entry.key,)
            ) from exc

    def _load_landmarker(self) -> Any:
        from app.core.landmarks import check_landmarker

        model = self._load_onnx(manifest.LANDMARK_2D, "landmarker")
        check_landmarker(model)
        return model

    # --- the torch backend, where it is chosen (a model it cannot run goes to onnxruntime, said in the log) -----
    def _torch(self, kind: str, path: Path) -> Any | None:
        if not self.runtime.on_torch:
            return None
        from app.core import torch_backend

        loaders: dict[str, Callable[..., Any]] = {"detector": torch_backend.load_detector,
                                                  "swapper": torch_backend.load_swapper,
                                                  "restorer": torch_backend.load_restorer}
        loader = loaders[kind]
        try:
            return loader(path, precision=self.options.precision)
        except (torch_backend.ConversionError, torch_backend.TorchUnavailable):
            return None  # logged by the loader: this model runs on onnxruntime

    def _load_detector(self) -> Any:
        path = self.path(manifest.DETECTOR)
        if path.is_file() and (model := self._torch("detector", path)) is not None:
            return model
        return self._load_onnx(manifest.DETECTOR, "detector")

    def _load_swapper(self) -> Any:
        path = self.path(manifest.INSWAPPER)
        if path.is_file() and (model := self._torch("swapper", path)) is not None:
            return model
        precision = self.options.precision
        if precision == "int8":
            from app.core.int8 import int8_swapper

            return self._load_onnx(manifest.INSWAPPER, "swapper", int8_swapper(self.models_dir))
        fp32 = self._load_onnx(manifest.INSWAPPER, "swapper")
        from app.core.fp16_guard import checked_fp16, checked_tensorrt_fp16, tensorrt_fp16

        if tensorrt_fp16(fp32):  # TensorRT builds fp16 kernels from the fp32 file itself (fp16 or auto)
            return checked_tensorrt_fp16(fp32, self._swapper_on(["CPUExecutionProvider"]),
                                         lambda: self._swapper_on(self.providers, "fp32"))
        if precision != "fp16":
            return fp32
        fp16_path = self.path(manifest.INSWAPPER_FP16)
        if not fp16_path.is_file():
            log.warning("--precision fp16 on onnxruntime needs %s (`models download %s`); the swap runs in fp32",
                        manifest.INSWAPPER_FP16.relpath, manifest.INSWAPPER_FP16.key)
            return fp32
        return checked_fp16(self._load_onnx(manifest.INSWAPPER_FP16, "swapper"), fp32)

    def _swapper_on(self, providers: list[str], precision: str | None = None) -> Any:
        """The fp32 file's swapper on other providers or at another precision (the fp16 guard's reference)."""
        from app.core import ort_models

        return ort_models.load(self.path(manifest.INSWAPPER), "swapper", providers,
                               precision or self.options.precision, entry=manifest.INSWAPPER)

    def _load_restorer(self) -> Any:
        from app.models.gfpgan_convert import ensure_restorer_onnx

        pth = self.path(manifest.RESTORER_PTH)
        if pth.is_file() and (model := self._torch("restorer", pth)) is not None:  # torch runs the .pth natively
            return model

        from app.core.ort_session import create_session

        path = ensure_restorer_onnx(self.models_dir)
        try:
            onnx_entry = manifest.RESTORER_ONNX if path == self.path(manifest.RESTORER_ONNX) else None
            session, _ = create_session(path, self.providers, self.options.precision, entry=onnx_entry)
        except DLCError:
            raise
        except Exception as exc:
            raise ModelError(
                f"model file {path} is corrupt or unreadable ({type(exc).__name__}); delete it and download "
                "it again", fetch=(manifest.RESTORER_PTH.key,)
            ) from exc
        inputs, outputs = session.get_inputs(), session.get_outputs()
        if len(inputs) != 1 or len(outputs) < 1 or list(inputs[0].shape)[1:] != [3, 512, 512]:
            shape = [list(i.shape) for i in inputs]
            raise ModelError(
                f"model file {path} is not a GFPGAN v1.4 export (inputs {shape}; expected one [1, 3, 512, 512]); "
                "remove it, or replace it", fetch=(manifest.RESTORER_PTH.key,)
            )
        return session


def _runs_on_torch(model: Any) -> bool:
    return model is not None and type(model).__module__.startswith("app.core.torch_backend")


def _runs_on(model: Any) -> list[str]:
    if _runs_on_torch(model):
        info = getattr(model, "info", model)  # the detector carries its device and precision itself
        return [f"torch {info.device} {info.precision}"]
    session = getattr(model, "session", model)
    return list(session.get_providers())
