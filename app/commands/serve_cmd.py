"""`deep-live-cam serve`: the REST API under uvicorn (loopback by default)."""

from __future__ import annotations

import argparse
import ipaddress
import logging
import os

from app.api.settings import ENV_API_KEY, ApiSettings
from app.commands import scale
from app.commands.common import add_engine_options, engine_options_from_args, models_dir_from_args
from app.core.providers import parse_provider_list

log = logging.getLogger(__name__)


def add_parser(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser("serve", help="run the REST API server",
                              description="Serve the REST API (docs at /docs and /redoc).")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    p.add_argument("--api-key", metavar="KEY",
                   help=f"require this key in the X-API-Key header of /api/ requests (default: ${ENV_API_KEY})")
    p.add_argument("--cors-origin", dest="cors_origins", action="append", default=[], metavar="ORIGIN",
                   help="allow browser requests from ORIGIN (repeat for more; default: none)")
    p.add_argument("--workers", type=int, default=2, metavar="N", help="inference threads (default 2)")
    p.add_argument("--queue", type=int, default=8, metavar="N",
                   help="requests that may wait for a thread; more get 503 with Retry-After (default 8)")
    p.add_argument("--max-upload-mb", type=float, default=20.0, metavar="MB",
                   help="largest accepted file (default 20)")
    p.add_argument("--max-pixels", type=int, default=40_000_000, metavar="N",
                   help="largest accepted image in pixels (default 40000000)")
    add_engine_options(p)
    scale.add_serve_options(p)
    p.set_defaults(func=run)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def settings_from_args(args: argparse.Namespace) -> ApiSettings:
    providers = parse_provider_list(args.providers)
    return ApiSettings(
        models_dir=models_dir_from_args(args),
        providers=tuple(providers) if providers else None,
        engine=engine_options_from_args(args),
        api_key=args.api_key or os.environ.get(ENV_API_KEY) or None,
        cors_origins=tuple(args.cors_origins),
        max_upload_bytes=max(1, int(args.max_upload_mb * 1024 * 1024)),
        max_pixels=args.max_pixels,
        workers=args.workers,
        queue_limit=args.queue,
    )


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from app.api import create_app
    from app.errors import OptionError

    if args.workers < 1 or args.queue < 0:
        raise OptionError("--workers must be at least 1 and --queue at least 0")
    scale.check_serve_args(args)
    settings = settings_from_args(args)
    if not is_loopback(args.host) and not settings.api_key:
        log.warning(
            "serving on %s without an API key: anyone who can reach this address can use the server; "
            "set --api-key or $%s", args.host, ENV_API_KEY)
    if args.ray:
        return scale.run_serve(args, settings)
    app = create_app(settings)
    print(f"serving on http://{args.host}:{args.port} (docs at /docs); Ctrl+C stops", flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level="info" if args.verbose else "warning",
                server_header=False)
    return 0
