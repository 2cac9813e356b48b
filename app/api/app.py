"""The app factory: `create_app(settings)` builds a FastAPI app whose models load once, at start-up."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from app import __version__
from app.api.errors import install_handlers
from app.api.limits import BodyLimitMiddleware
from app.api.routes import API_NAME, build_router
from app.api.security import HEADER
from app.api.settings import MIB, ApiSettings
from app.api.state import ApiState

log = logging.getLogger(__name__)

DESCRIPTION = """Face swap and face restoration over HTTP (multipart uploads in, PNG/JPEG out).

Errors are JSON: `{"error": code, "detail": message}`. Busy: 503 with `Retry-After`. Missing models: 503
naming the files."""


def create_app(settings: ApiSettings | None = None) -> FastAPI:
    settings = settings or ApiSettings.from_env()
    state = ApiState(settings)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if settings.load_models:
            await asyncio.to_thread(state.load_models)
        log.info("models folder %s; providers %s", settings.models_dir, ", ".join(state.models.providers))
        try:
            yield
        finally:
            await asyncio.to_thread(state.pool.shutdown)

    app = FastAPI(title=API_NAME, version=__version__, description=DESCRIPTION, lifespan=lifespan,
                  docs_url="/docs", redoc_url="/redoc")
    app.state.dlc = state
    install_handlers(app)
    app.include_router(build_router(settings))
    # Two files per request at most, plus the form's other fields.
    app.add_middleware(BodyLimitMiddleware, max_bytes=2 * settings.max_upload_bytes + MIB)
    if settings.cors_origins:  # outermost, so refusals carry CORS headers too
        app.add_middleware(CORSMiddleware, allow_origins=list(settings.cors_origins),
                           allow_methods=["GET", "POST"], allow_headers=[HEADER, "Authorization", "Content-Type"],
                           expose_headers=["Retry-After", "X-Faces-Swapped", "X-Faces-Restored",
                                           "X-Source-Cache", "X-Process-Ms"])
    return app
