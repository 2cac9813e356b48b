"""The REST API as a Ray Serve deployment: the same FastAPI app (endpoints, fields, limits, API key, CORS,
error JSON, OpenAPI) in each replica, replicas fixed or autoscaled on ongoing requests, GPUs per replica.

Overload is refused exactly as by one server: each replica keeps its own inference pool (`--workers`,
`--queue`), which answers 503 + Retry-After with the API's JSON when full; Serve sends a replica up to a
little more than that pool holds (so the pool, not Serve, decides) and routes each request to the less
loaded of two replicas. Only when every replica is saturated do requests wait at the proxy, up to
`proxy_queue`, past which Serve's own 503 is turned into the same JSON by `ray_proxy`."""

from __future__ import annotations

import logging
import re
import signal
import threading
from dataclasses import dataclass
from typing import Any

from app.api.settings import ApiSettings
from app.cluster import connect, require_serve
from app.errors import DLCError, OptionError

log = logging.getLogger(__name__)

APP_NAME = "deep-live-cam"
DEPLOYMENT_NAME = "api"
ROUTER = "app.api.ray_routing.SourceAffinityRouter"
HEADROOM = 4  # requests beyond a replica's pool that Serve still sends it: /health and quick refusals


@dataclass(frozen=True)
class ServeScale:
    replicas: int = 1  # fixed number of replicas (ignored when autoscale is set)
    autoscale: tuple[int, int] | None = None  # (min, max) replicas, scaled on ongoing requests
    gpus_per_replica: float = 0.0
    cpus_per_replica: float = 1.0
    proxy_queue: int | None = None  # requests each proxy holds while every replica is full; None: one pool's worth

    def __post_init__(self) -> None:
        if self.replicas < 1:
            raise OptionError(f"--replicas must be at least 1, got {self.replicas}")
        if self.autoscale is not None:
            low, high = self.autoscale
            if low < 0 or high < 1 or low > high:
                raise OptionError(f"--autoscale needs 0 <= MIN <= MAX and MAX >= 1, got {low}-{high}")
        if not self.gpus_per_replica >= 0:
            raise OptionError(f"--gpus-per-replica must be 0 or more, got {self.gpus_per_replica}")
        if not self.cpus_per_replica >= 0:
            raise OptionError(f"CPUs per replica must be 0 or more, got {self.cpus_per_replica}")
        if self.proxy_queue is not None and self.proxy_queue < 0:
            raise OptionError("the proxy queue must be 0 or more")

    @property
    def max_replicas(self) -> int:
        return self.autoscale[1] if self.autoscale else self.replicas


def parse_autoscale(text: str) -> tuple[int, int]:
    """"MIN-MAX" (e.g. "1-4") as two integers; OptionError otherwise."""
    match = re.fullmatch(r"\s*(\d+)\s*-\s*(\d+)\s*", text)
    if not match:
        raise OptionError(f"--autoscale takes MIN-MAX replicas, e.g. 1-4; got {text!r}")
    low, high = int(match.group(1)), int(match.group(2))
    ServeScale(autoscale=(low, high))  # validates
    return low, high


def deployment_options(settings: ApiSettings, scale: ServeScale) -> dict[str, Any]:
    """The keyword arguments of `serve.deployment` for these settings (plain data, testable without Ray)."""
    pool = settings.workers + settings.queue_limit
    options: dict[str, Any] = {
        "name": DEPLOYMENT_NAME,
        "max_ongoing_requests": pool + HEADROOM,
        "max_queued_requests": scale.proxy_queue if scale.proxy_queue is not None else pool,
        "backpressure_config": {"status_code": 503, "retry_after_s": 1},
        "ray_actor_options": {"num_cpus": scale.cpus_per_replica, "num_gpus": scale.gpus_per_replica},
        # A client stays on its replica while that has no more requests in hand than inference threads: the
        # new one then waits for one job at most, and finds its source face prepared (the router's count
        # of a replica's requests lags a little, so "a free thread" would send clients away too often).
        "request_router_config": {"request_router_class": ROUTER,
                                  "request_router_kwargs": {"busy_at": settings.workers + 1}},
        "graceful_shutdown_timeout_s": 30.0,
    }
    if scale.autoscale is not None:
        low, high = scale.autoscale
        options["autoscaling_config"] = {
            "min_replicas": low, "max_replicas": high, "initial_replicas": max(low, 1),
            # a replica is "full" when all its inference threads are busy; waiting requests mean scale up
            "target_ongoing_requests": float(settings.workers),
            "upscale_delay_s": 5.0, "downscale_delay_s": 120.0,
        }
    else:
        options["num_replicas"] = scale.replicas
    return options


def build_application(settings: ApiSettings, scale: ServeScale, verbose: bool = False) -> Any:
    """The Serve application (bind it with `serve.run`)."""
    serve = require_serve()
    from app.api.ray_replica import ApiReplica

    options = deployment_options(settings, scale)
    options["logging_config"] = {"log_level": "INFO" if verbose else "WARNING", "enable_access_log": verbose}
    deployment = serve.deployment(**options)(serve.ingress()(ApiReplica))
    return deployment.bind(settings)


def deploy(settings: ApiSettings, scale: ServeScale, host: str, port: int, verbose: bool = False) -> str:
    """Start Serve's proxies (host, port) and run the application; returns its URL. Ray must be connected."""
    serve = require_serve()
    serve.start(http_options={"host": host, "port": port})
    try:
        serve.run(build_application(settings, scale, verbose), name=APP_NAME, route_prefix="/", blocking=False)
    except RuntimeError as exc:  # a replica that cannot start (see its log)
        raise DLCError(f"the API could not be deployed on Ray: {exc}") from exc
    return f"http://{host}:{port}"


def serve_forever(settings: ApiSettings, scale: ServeScale, address: str | None, host: str, port: int,
                  verbose: bool = False) -> int:
    """`deep-live-cam serve --ray`: deploy, then wait for Ctrl+C (or SIGTERM), then remove the application
    (and stop the local Ray instance when this process started one)."""
    import ray

    started = connect(address, verbose=verbose)
    serve = require_serve()
    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        url = deploy(settings, scale, host, port, verbose)
        replicas = f"{scale.autoscale[0]}-{scale.autoscale[1]} (autoscaled)" if scale.autoscale else scale.replicas
        print(f"serving on {url} (docs at /docs) with {replicas} replica(s) on Ray; Ctrl+C stops", flush=True)
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        try:
            serve.delete(APP_NAME)
            if started:
                serve.shutdown()
        finally:
            if started:
                ray.shutdown()
    return 0
