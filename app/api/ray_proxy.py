"""Middleware for Ray Serve's HTTP proxy: the answers Serve gives itself, before any replica runs the app,
become the API's JSON errors, so a client sees the same refusals as from the single server.

- queue full (`max_queued_requests`): Serve's plain-text 503 -> `{"error": "overloaded", ...}`, Retry-After
- no replica ready (deploying, all replaced): Serve's plain-text 503 -> `{"error": "unavailable", ...}`
- the replica running the request died: no answer at all -> 503 `unavailable` with Retry-After (every
  endpoint is a pure function of its uploads, so a retry is safe)
- request timeout: Serve's 408 -> `{"error": "timeout", ...}`

Serve loads it in each proxy process from the import path in $RAY_SERVE_HTTP_PROXY_CALLBACK_IMPORT_PATH
(`app.api.ray_proxy.proxy_middlewares`), set for a local instance by `app.cluster.connect`. It imports
only Starlette: the proxy has no models."""

from __future__ import annotations

import json

from starlette.middleware import Middleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

SERVE_REFUSALS = (408, 429, 503)
RETRY_AFTER_S = 1


def proxy_middlewares() -> list[Middleware]:
    return [Middleware(ServeErrorsAsJson)]


def _header(headers: list[tuple[bytes, bytes]], name: bytes) -> bytes:
    return next((v for k, v in headers if k.lower() == name), b"")


def _refusal(status: int, text: str) -> tuple[int, str, str]:
    if status == 408:
        return 408, "timeout", "the request took too long; try again"
    if "backpressure" in text.lower() or status == 429:
        return 503, "overloaded", "the server is busy; try again shortly"
    return 503, "unavailable", "no server replica is ready; try again shortly"


class ServeErrorsAsJson:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False
        held: Message | None = None  # Serve's own refusal, replaced once its body is known
        body = b""

        async def guarded_send(message: Message) -> None:
            nonlocal started, held, body
            if message["type"] == "http.response.start" and not started:
                headers = list(message.get("headers", []))
                json_body = _header(headers, b"content-type").startswith(b"application/json")
                if message["status"] in SERVE_REFUSALS and not json_body:
                    held = message
                    return
                started = True
            elif held is not None and message["type"] == "http.response.body":
                body += message.get("body", b"")
                if not message.get("more_body", False):
                    retry = _header(list(held.get("headers", [])), b"retry-after").decode() or str(RETRY_AFTER_S)
                    status, code, detail = _refusal(int(held["status"]), body.decode(errors="replace"))
                    held = None
                    started = True
                    await _send_json(send, status, code, detail, retry)
                return
            await send(message)

        try:
            await self.app(scope, receive, guarded_send)
        except Exception:
            if started:
                raise
        if not started:  # the replica died, or the proxy gave up, before any answer
            await _send_json(send, 503, "unavailable",
                             "the server replica handling the request stopped; try again", str(RETRY_AFTER_S))


async def _send_json(send: Send, status: int, code: str, detail: str, retry_after: str) -> None:
    payload = json.dumps({"error": code, "detail": detail}, separators=(",", ":")).encode()  # as the app writes it
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode()),
               (b"retry-after", retry_after.encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})
