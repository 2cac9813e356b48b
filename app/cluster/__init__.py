"""Scale-out on Ray, for the front ends that use it (`serve --ray`, `swap --ray`): joining or starting a
cluster here, long videos in chunks on Ray workers in `app.cluster.video`.

Ray is an optional extra: this package sits beside the front ends (nothing in live, media or core imports
it); this module imports Ray only when asked, and says which extra installs it."""

from __future__ import annotations

import logging
import os
from types import ModuleType

from app.errors import OptionError

log = logging.getLogger(__name__)

EXTRA = "scale"
INSTALL_HINT = f'pip install "deep-live-cam[{EXTRA}]" (or, in a checkout, pip install -e ".[{EXTRA}]")'
# Serve's HTTP proxy takes extra middleware from this import path (read when a proxy starts): ours turns
# Serve's own plain-text refusals into the API's JSON errors.
PROXY_CALLBACK_ENV = "RAY_SERVE_HTTP_PROXY_CALLBACK_IMPORT_PATH"
PROXY_CALLBACK = "app.api.ray_proxy.proxy_middlewares"


def require_ray(what: str = "--ray") -> ModuleType:
    """The `ray` module, or OptionError (exit 2) naming the pip extra that installs it."""
    try:
        import ray
    except ImportError:
        raise OptionError(f"{what} needs Ray, which is not installed; {INSTALL_HINT}") from None
    return ray


def require_serve(what: str = "serve --ray") -> ModuleType:
    require_ray(what)
    try:
        from ray import serve
    except ImportError:
        raise OptionError(f"{what} needs Ray Serve (ray[serve]), which is not installed; {INSTALL_HINT}") from None
    return serve


def connect(address: str | None, *, num_cpus: int | None = None, verbose: bool = False) -> bool:
    """Join the cluster at `address` ("auto", "ray://host:10001", "host:6379"), or start a new local Ray
    instance when it is None. Returns False when this process was already connected (nothing done)."""
    ray = require_ray()
    if ray.is_initialized():
        return False
    # A local instance inherits this process's environment: its Serve proxy gets our middleware.
    os.environ.setdefault(PROXY_CALLBACK_ENV, PROXY_CALLBACK)
    kwargs: dict[str, object] = {"logging_level": logging.INFO if verbose else logging.WARNING,
                                 "log_to_driver": True}
    if address is None:
        kwargs.update(address="local", include_dashboard=False, num_cpus=num_cpus)
    else:
        kwargs.update(address=address)
    try:
        ray.init(**kwargs)
    except ConnectionError as exc:
        raise OptionError(f"cannot join the Ray cluster at {address}: {exc}") from exc
    except ValueError as exc:  # a malformed address
        raise OptionError(f"bad Ray address {address!r}: {exc}") from exc
    resources = ray.cluster_resources()
    log.info("Ray %s: %s CPUs, %s GPUs", "joined at " + address if address else "started locally",
             resources.get("CPU", 0), resources.get("GPU", 0))
    return True
