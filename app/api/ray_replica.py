"""One Serve replica: the very app `create_app` builds (its lifespan loads the models once per replica),
with /health extended by what the cluster knows about the deployment's replicas."""

from __future__ import annotations

import asyncio
import json
import logging
import os
from typing import Any

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.api import create_app
from app.api.settings import ApiSettings

log = logging.getLogger(__name__)

STATUS_TIMEOUT_S = 5.0
BAD_DEPLOYMENT_STATES = ("UNHEALTHY", "DEPLOY_FAILED")


class ApiReplica:
    """The deployment class: Serve calls `__serve_build_asgi_app__` in each replica process."""

    def __init__(self, settings: ApiSettings) -> None:
        self.settings = settings

    def __serve_build_asgi_app__(self) -> FastAPI:
        app = create_app(self.settings)
        app.add_middleware(ClusterHealth)
        return app


def cluster_status() -> dict[str, Any]:
    """This deployment's state and its replicas by state, from the Serve controller (blocking)."""
    from ray import serve

    ctx = serve.get_replica_context()
    status = serve.status()
    application = status.applications.get(ctx.app_name)
    deployment = application.deployments.get(ctx.deployment) if application is not None else None
    out: dict[str, Any] = {
        "application": ctx.app_name,
        "deployment": ctx.deployment,
        "replica": ctx.replica_id.unique_id,  # the one that answered (its pool and cache are above)
        "pid": os.getpid(),
    }
    if application is not None:
        out["application_status"] = str(application.status.value)
    if deployment is not None:
        out["deployment_status"] = str(deployment.status.value)
        out["replicas"] = {str(getattr(k, "value", k)): int(v) for k, v in deployment.replica_states.items()}
        if deployment.message:
            out["message"] = deployment.message
    return out


class ClusterHealth:
    """GET /health: the replica's own answer plus `cluster` (cluster_status). The app's response is kept as
    it is otherwise, so its fields stay defined in one place (the app's route)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") != "/health" or scope.get("method") != "GET":
            await self.app(scope, receive, send)
            return
        messages: list[Message] = []

        async def capture(message: Message) -> None:
            messages.append(message)

        await self.app(scope, receive, capture)
        start = next((m for m in messages if m["type"] == "http.response.start"), None)
        body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
        if start is None or start["status"] != 200:
            for m in messages:
                await send(m)
            return
        payload = json.loads(body)
        try:
            cluster = await asyncio.wait_for(asyncio.to_thread(cluster_status), STATUS_TIMEOUT_S)
        except Exception as exc:  # the controller is busy or gone: say so, the replica still answers
            log.warning("cluster status unavailable: %s", exc)
            cluster = {"error": "the cluster's status is unavailable right now"}
        payload["cluster"] = cluster
        if cluster.get("deployment_status") in BAD_DEPLOYMENT_STATES and payload.get("status") == "ok":
            payload["status"] = "degraded"
        data = json.dumps(payload).encode()
        headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(data)).encode()))
        await send({**start, "headers": headers})
        await send({"type": "http.response.body", "body": data})
