"""The one object that owns every model session.

Sessions are created on first use from local files only (never a hub download), on the providers chosen
once for the whole set. Front ends create one `ModelSet` and pass it in; nothing looks models up globally.
"""

from __future__ import annotations

import contextlib
import io
import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import onnxruntime as ort

from app.core.providers import choose_providers
from app.errors import ModelError
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
    """Lazily loaded, thread-safe model sessions over one models folder."""

    def __init__(self, models_dir: Path, providers: Sequence[str] | None = None) -> None:
        self.models_dir = Path(models_dir)
        self.providers = choose_providers(providers)
        self._lock = threading.Lock()  # guards the two dicts below, never held while a model loads
        self._loaded: dict[str, Any] = {}
        self._load_locks: dict[str, threading.Lock] = {}

    @staticmethod
    def session_options() -> ort.SessionOptions:
        """Per-session options: onnxruntime warns about every unused initializer (inswapper's emap is one, by
        design), so these sessions log errors only."""
        options = ort.SessionOptions()
        options.log_severity_level = 3
        return options

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
        """insightface SCRFD over buffalo_l/det_10g.onnx."""
        return self._get("detector", lambda: self._load_insightface(manifest.DETECTOR, "SCRFD"))

    @property
    def recognizer(self) -> Any:
        """insightface ArcFaceONNX over buffalo_l/w600k_r50.onnx."""
        return self._get("recognizer", lambda: self._load_insightface(manifest.RECOGNIZER, "ArcFaceONNX"))

    @property
    def swapper(self) -> Any:
        """insightface INSwapper over inswapper_128.onnx (we use its session and emap, not its paste-back)."""
        return self._get("swapper", lambda: self._load_insightface(manifest.INSWAPPER, "INSwapper"))

    @property
    def landmarker(self) -> Any:
        """insightface Landmark over buffalo_l/2d106det.onnx (106 points, for masks)."""
        return self._get("landmarker", self._load_landmarker)

    @property
    def restorer(self) -> ort.InferenceSession:
        """GFPGAN v1.4 as an onnxruntime session (the ONNX file, or the cached conversion of the .pth)."""
        return self._get("restorer", self._load_restorer)

    def loaded_providers(self) -> dict[str, list[str]]:
        """Which providers each loaded model really runs on."""
        out = {}
        for key, model in list(self._loaded.items()):
            session = getattr(model, "session", model)
            out[key] = list(session.get_providers())
        return out

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
        with self._lock:
            key_lock = self._load_locks.setdefault(key, threading.Lock())
        with key_lock:
            loaded: Any = self._loaded.get(key)
            if loaded is None:
                loaded = load()
                session = getattr(loaded, "session", loaded)
                log.info("%s runs on %s", key, ", ".join(session.get_providers()))
                with self._lock:
                    self._loaded[key] = loaded
        return loaded  # type: ignore[no-any-return]

    def _load_insightface(self, entry: manifest.ModelFile, expected_class: str) -> Any:
        path = self.path(entry)
        if not path.is_file():
            raise ModelError(missing_files_message([path]), fetch=(entry.key,))
        from insightface import model_zoo

        try:
            # insightface prints model shapes to stdout; keep the library quiet.
            with contextlib.redirect_stdout(io.StringIO()):
                model = model_zoo.get_model(str(path), providers=self.providers, sess_options=self.session_options())
        except Exception as exc:  # onnx/onnxruntime raise many types for a damaged file
            raise ModelError(
                f"model file {path} is corrupt or unreadable ({type(exc).__name__}); delete it and download it "
                "again", fetch=(entry.key,)
            ) from exc
        if type(model).__name__ != expected_class:
            raise ModelError(
                f"model file {path} is not a {entry.purpose} model (it loads as {type(model).__name__}); "
                "replace it with the right file", fetch=(entry.key,)
            )
        return model

    def _load_landmarker(self) -> Any:
        from app.core.landmarks import check_landmarker

        model = self._load_insightface(manifest.LANDMARK_2D, "Landmark")
        check_landmarker(model)
        return model

    def _load_restorer(self) -> ort.InferenceSession:
        from app.models.gfpgan_convert import ensure_restorer_onnx

        path = ensure_restorer_onnx(self.models_dir)
        try:
            session = ort.InferenceSession(str(path), sess_options=self.session_options(), providers=self.providers)
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
