"""The server's settings: one frozen object, built by `deep-live-cam serve` or from the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from app.core.options import EngineOptions
from app.errors import OptionError
from app.models.paths import resolve_models_dir

ENV_API_KEY = "DLC_API_KEY"
MIB = 1024 * 1024


@dataclass(frozen=True)
class ApiSettings:
    models_dir: Path = field(default_factory=resolve_models_dir)
    providers: tuple[str, ...] | None = None  # onnxruntime provider names; None: the best present
    engine: EngineOptions = field(default_factory=EngineOptions)  # backend and precision
    api_key: str | None = None  # when set, every /api/ request must carry it
    cors_origins: tuple[str, ...] = ()  # none by default: browsers on other origins are refused
    max_upload_bytes: int = 20 * MIB  # per uploaded file
    max_pixels: int = 40_000_000  # per decoded image (decompression bombs)
    workers: int = 2  # inference threads
    queue_limit: int = 8  # requests allowed to wait for a worker; past it: 503 with Retry-After
    source_cache_size: int = 32  # prepared source faces kept by upload hash; 0 re-analyses every time
    load_models: bool = True  # load every present model at start-up (tests of the 503 path may skip it)

    def __post_init__(self) -> None:
        if self.workers < 1:
            raise OptionError("workers must be at least 1")
        if self.queue_limit < 0:
            raise OptionError("queue limit must be 0 or more")
        if self.max_upload_bytes < 1 or self.max_pixels < 1:
            raise OptionError("upload and pixel limits must be positive")
        if self.source_cache_size < 0:
            raise OptionError("source cache size must be 0 or more")

    @classmethod
    def from_env(cls, **overrides: object) -> ApiSettings:
        """Settings with the API key taken from $DLC_API_KEY (and the models folder from $DLC_MODELS_DIR)
        unless given explicitly."""
        if overrides.get("api_key") is None:
            overrides["api_key"] = os.environ.get(ENV_API_KEY) or None
        if overrides.get("models_dir") is None:
            overrides.pop("models_dir", None)
        return cls(**overrides)  # type: ignore[arg-type]
