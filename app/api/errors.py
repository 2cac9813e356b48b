"""Every failure becomes a small JSON body `{"error": code, "detail": message}` with a 4xx/5xx status.

Messages are written for the caller and never carry server paths or tracebacks: engine messages pass through
`scrub`, which keeps only the last part of any absolute path.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.api.pool import Overloaded
from app.errors import DLCError, InputError, ModelError, NoFaceError, OptionError

log = logging.getLogger(__name__)

# Absolute POSIX paths (two or more parts) and Windows drive paths.
_PATH = re.compile(r"(?<![\w.:/])(?:/[\w.\-]+){2,}/?|\b[A-Za-z]:\\(?:[^\s\\'\"]+\\)*[^\s\\'\"]*")


class ErrorBody(BaseModel):
    error: str
    detail: str


class ApiError(Exception):
    """A refusal the API decides itself (size limits, formats, authentication)."""

    def __init__(self, status: int, code: str, detail: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.headers = dict(headers or {})


def scrub(message: str) -> str:
    """`message` with every absolute path cut down to its last part."""

    def last_part(match: re.Match[str]) -> str:
        parts = re.split(r"[\\/]", match.group(0).rstrip("/\\"))
        return parts[-1] if parts else ""

    return _PATH.sub(last_part, message)


def describe_note(text: str, fetch: tuple[str, ...] | None) -> str:
    """A note on a result (the job went on), with how the server's operator would fix it."""
    if fetch is None:
        return text
    return f"{text} (the server's operator can fetch it with `{' '.join(('deep-live-cam models download', *fetch))}`)"


def describe(exc: DLCError) -> str:
    """The engine's message, plus how the server's operator fixes a model problem."""
    text = str(exc)
    if isinstance(exc, ModelError) and exc.fetch is not None:
        command = " ".join(("deep-live-cam models download", *exc.fetch))
        text += f"; the server's operator can fetch them with `{command}`"
    return text.replace("\n", " ").replace("  ", " ")


def error_response(status: int, code: str, detail: str, headers: Mapping[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": code, "detail": scrub(detail)}, status_code=status, headers=dict(headers or {}))


_DLC_CODES: tuple[tuple[type[DLCError], str], ...] = (
    (ModelError, "models_unavailable"),
    (NoFaceError, "no_face"),
    (OptionError, "invalid_parameter"),
    (InputError, "invalid_image"),
)

ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "not an image, or an unreadable one"},
    401: {"model": ErrorBody, "description": "missing or wrong API key"},
    413: {"model": ErrorBody, "description": "a file over the upload limit, or an image over the pixel limit"},
    415: {"model": ErrorBody, "description": "an image format the server does not read"},
    422: {"model": ErrorBody, "description": "a missing field, a parameter out of range, or no face found"},
    503: {"model": ErrorBody, "description": "models missing (named), or the server is busy (Retry-After)"},
}


def _validation_detail(exc: RequestValidationError) -> tuple[str, str]:
    problems = []
    code = "invalid_parameter"
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "header", "path")]
        field = ".".join(loc) or "request"
        if err.get("type") == "missing":
            code = "missing_field"
            problems.append(f"{field}: field required")
        else:
            # pydantic's message only ("Input should be less than or equal to 1"); the input is not echoed.
            problems.append(f"{field}: {err.get('msg', 'invalid value')}")
    return code, "; ".join(problems) or "invalid request"


def install_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(_: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.code, exc.detail, exc.headers)

    @app.exception_handler(Overloaded)
    async def overloaded(_: Request, exc: Overloaded) -> JSONResponse:
        return error_response(503, "overloaded", str(exc), {"Retry-After": str(exc.retry_after)})

    @app.exception_handler(DLCError)
    async def engine_error(_: Request, exc: DLCError) -> JSONResponse:
        code = next((c for cls, c in _DLC_CODES if isinstance(exc, cls)), "processing_failed")
        if exc.http_status >= 500 and not isinstance(exc, ModelError):
            log.error("engine error: %s", exc)
        return error_response(exc.http_status, code, describe(exc))

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        code, detail = _validation_detail(exc)
        return error_response(422, code, detail)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "bad_request")
        detail = exc.detail if isinstance(exc.detail, str) else "bad request"
        if exc.status_code == 400 and "parsing the body" in detail:
            detail = "the request body is not valid multipart/form-data"
        return error_response(exc.status_code, code, detail, exc.headers)

    @app.exception_handler(Exception)
    async def unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error")
        return error_response(500, "internal_error", "internal error; see the server log")
