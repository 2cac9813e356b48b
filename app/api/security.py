"""The API key: when one is set, every /api/ request must carry it (X-API-Key or Authorization: Bearer)."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader

from app.api.errors import ApiError
from app.api.settings import ApiSettings

HEADER = "X-API-Key"
_scheme = APIKeyHeader(name=HEADER, auto_error=False, description="the server's API key")


def api_key_dependency(settings: ApiSettings) -> Callable[..., Awaitable[None]]:
    expected = (settings.api_key or "").encode()

    async def require_key(request: Request, header_key: Annotated[str | None, Depends(_scheme)]) -> None:
        given = header_key or _bearer(request.headers.get("authorization", ""))
        if not given or not secrets.compare_digest(given.encode(), expected):
            raise ApiError(401, "unauthorized", f"a valid API key is required ({HEADER} header)",
                           {"WWW-Authenticate": f'ApiKey header="{HEADER}"'})

    return require_key


def _bearer(value: str) -> str | None:
    scheme, _, token = value.partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None
