"""What the server shares between requests: the models, the engine, the pool and the source-face cache."""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from app.api.pool import InferencePool
from app.api.settings import ApiSettings
from app.core.engine import Engine, SourceFace
from app.core.sessions import DOWNLOAD_HINT, ModelSet
from app.errors import ModelError
from app.models import manifest

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelEntry:
    key: str  # ModelSet property name
    files: tuple[manifest.ModelFile, ...]  # any one of them will do
    required: bool


MODEL_ENTRIES = (
    ModelEntry("detector", (manifest.DETECTOR,), True),
    ModelEntry("recognizer", (manifest.RECOGNIZER,), True),
    ModelEntry("swapper", (manifest.INSWAPPER,), True),
    ModelEntry("restorer", (manifest.RESTORER_ONNX, manifest.RESTORER_PTH), False),
)


class SourceCache:
    """Prepared source faces keyed by a hash of the uploaded bytes, so a repeated upload skips even decoding."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[bytes, SourceFace] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    @staticmethod
    def key(data: bytes) -> bytes:
        return hashlib.blake2b(data, digest_size=16).digest()

    def get_or_make(self, data: bytes, make: Callable[[], SourceFace]) -> tuple[SourceFace, bool]:
        """The prepared source for `data` and whether it came from the cache."""
        if self.size == 0:
            with self._lock:
                self.misses += 1
            return make(), False
        key = self.key(data)
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
                self.hits += 1
                return found, True
            self.misses += 1
        source = make()  # outside the lock: analysis is slow, and two first uploads may race harmlessly
        with self._lock:
            self._items[key] = source
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return source, False

    def stats(self) -> dict[str, int]:
        with self._lock:
            return {"size": len(self._items), "capacity": self.size, "hits": self.hits, "misses": self.misses}


class ApiState:
    def __init__(self, settings: ApiSettings) -> None:
        self.settings = settings
        self.models = ModelSet(settings.models_dir, list(settings.providers) if settings.providers else None)
        # With the cache off, the engine's own (keyed by decoded pixels) is off too: every request re-analyses.
        self.engine = Engine(self.models, source_cache_size=16 if settings.source_cache_size else 0)
        self.pool = InferencePool(settings.workers, settings.queue_limit)
        self.sources = SourceCache(settings.source_cache_size)
        self.load_errors: dict[str, str] = {}

    # --- model files ---------------------------------------------------------------------------------
    def present(self, entry: ModelEntry) -> bool:
        return any(self.models.path(f).is_file() for f in entry.files)

    def load_models(self) -> None:
        """Open a session for every model whose file is present (at start-up, so no request pays for it)."""
        for entry in MODEL_ENTRIES:
            if not self.present(entry):
                if entry.required:
                    log.warning("model file missing: %s (%s)", entry.files[0].relpath, DOWNLOAD_HINT)
                continue
            try:
                getattr(self.models, entry.key)
            except Exception as exc:  # a damaged file: report it, keep serving what works
                self.load_errors[entry.key] = str(exc)
                log.error("cannot load the %s: %s", entry.key, exc)

    def require(self, keys: Sequence[str]) -> None:
        """Raise ModelError naming (by file name only) every missing file the request needs."""
        missing = [e for e in MODEL_ENTRIES if e.key in keys and not self.present(e)]
        if missing:
            names = ", ".join(" or ".join(f.relpath for f in e.files) for e in missing)
            raise ModelError(f"model files missing: {names}; {DOWNLOAD_HINT}")
        broken = [e for e in MODEL_ENTRIES if e.key in keys and e.key in self.load_errors]
        if broken:  # a file that failed at start-up is not re-parsed on every request
            names = ", ".join(" or ".join(f.relpath for f in e.files) for e in broken)
            raise ModelError(f"model files could not be loaded: {names}; replace them and restart the server "
                             f"({DOWNLOAD_HINT})")

    def model_status(self) -> list[dict[str, object]]:
        loaded = self.models.loaded_providers()
        out: list[dict[str, object]] = []
        for entry in MODEL_ENTRIES:
            if entry.key in loaded:
                status = "loaded"
            elif entry.key in self.load_errors:
                status = "error"
            elif self.present(entry):
                status = "present"
            else:
                status = "missing"
            out.append({
                "name": entry.key,
                "file": " or ".join(f.relpath for f in entry.files),
                "required": entry.required,
                "status": status,
                "loaded": status == "loaded",
                **({"providers": loaded[entry.key]} if entry.key in loaded else {}),
            })
        return out

    def ready(self) -> bool:
        return all(self.present(e) and e.key not in self.load_errors for e in MODEL_ENTRIES if e.required)


SWAP_KEYS = ("detector", "recognizer", "swapper")
RESTORE_KEYS = ("detector", "restorer")
