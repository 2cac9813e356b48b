"""What the server shares between requests: the models, the engine, the pool and the source-face cache."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from typing import Any

from app.api.pool import InferencePool
from app.api.settings import ApiSettings
from app.core.cache import LruCache
from app.core.engine import Engine
from app.core.ort_runtime import import_onnxruntime
from app.core.sessions import ROLES, ModelRole, ModelSet
from app.errors import ModelError

log = logging.getLogger(__name__)


class ApiState:
    def __init__(self, settings: ApiSettings) -> None:
        self.settings = settings
        import_onnxruntime()  # a server without it could serve nothing: refuse to start, saying what to install
        self.models = ModelSet(settings.models_dir, list(settings.providers) if settings.providers else None,
                               settings.engine)
        # One size for both caches: by upload bytes here (a repeated upload skips even decoding), by decoded
        # pixels in the engine (the same photo sent re-encoded). With the cache off, every request re-analyses.
        self.engine = Engine(self.models, source_cache_size=settings.source_cache_size)
        self.pool = InferencePool(settings.workers, settings.queue_limit)
        self.sources: LruCache[bytes, Any] = LruCache(settings.source_cache_size)  # routes.PreparedSource
        self.load_errors: dict[str, str] = {}

    @staticmethod
    def upload_key(data: bytes) -> bytes:
        return hashlib.blake2b(data, digest_size=16).digest()

    # --- model files ---------------------------------------------------------------------------------
    def load_models(self) -> None:
        """Open a session for every model whose file is present (at start-up, so no request pays for it)."""
        for role in ROLES:
            if not self.models.present(role.key):
                if role.required:
                    log.warning("model file missing: %s", _names(role))
                continue
            try:
                self.models.load(role.key)
            except Exception as exc:  # a damaged file: report it, keep serving what works
                self.load_errors[role.key] = str(exc)
                log.error("cannot load the %s: %s", role.key, exc)

    def require(self, keys: Sequence[str]) -> None:
        """Raise ModelError naming (by file name only) every missing file the request needs."""
        needed = [r for r in ROLES if r.key in keys]
        missing = [r for r in needed if not self.models.present(r.key)]
        if missing:
            raise ModelError(f"model files missing: {', '.join(_names(r) for r in missing)}",
                             fetch=tuple(r.files[-1].key for r in missing))
        broken = [r for r in needed if r.key in self.load_errors]
        if broken:  # a file that failed at start-up is not re-parsed on every request
            raise ModelError(f"model files could not be loaded: {', '.join(_names(r) for r in broken)}; replace "
                             "them and restart the server", fetch=tuple(r.files[-1].key for r in broken))

    def model_status(self) -> list[dict[str, object]]:
        loaded = self.models.loaded_providers()
        out: list[dict[str, object]] = []
        for role in ROLES:
            if role.key in loaded:
                status = "loaded"
            elif role.key in self.load_errors:
                status = "error"
            elif self.models.present(role.key):
                status = "present"
            else:
                status = "missing"
            out.append({
                "name": role.key,
                "file": _names(role),
                "required": role.required,
                "status": status,
                "loaded": status == "loaded",
                **({"providers": loaded[role.key]} if role.key in loaded else {}),
            })
        return out

    def ready(self) -> bool:
        return all(self.models.present(r.key) and r.key not in self.load_errors for r in ROLES if r.required)


def _names(role: ModelRole) -> str:
    return " or ".join(f.relpath for f in role.files)
