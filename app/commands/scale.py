"""The `--ray` options of `serve` and `swap`: scale-out on a Ray cluster (the optional `scale` extra).

Ray is imported only when `--ray` is given, so the other commands never pay for it or need it."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from app.core.options import SwapOptions
from app.errors import EXIT_INTERRUPTED, OptionError

ADDRESS_HELP = ("join the Ray cluster at ADDR (e.g. auto, or ray://head:10001 / head:6379 from `ray start --head`; "
                "default: start a local Ray instance)")


def _given(args: argparse.Namespace, *names: str) -> list[str]:
    return [f"--{n.replace('_', '-')}" for n in names if getattr(args, n, None) is not None]


# ----------------------------------------------------------------------------------------------- serve --ray


def add_serve_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("scale-out on Ray (pip extra: scale)")
    group.add_argument("--ray", action="store_true",
                       help="run the API as a Ray Serve deployment (same endpoints; --workers and --queue are per "
                            "replica)")
    group.add_argument("--address", metavar="ADDR", help=ADDRESS_HELP)
    count = group.add_mutually_exclusive_group()
    count.add_argument("--replicas", type=int, metavar="N", help="a fixed number of replicas (default 1)")
    count.add_argument("--autoscale", metavar="MIN-MAX",
                       help="scale between MIN and MAX replicas on ongoing requests, e.g. 1-4")
    group.add_argument("--gpus-per-replica", type=float, metavar="G",
                       help="GPUs each replica reserves (0.5: two replicas share one; default 0)")
    group.add_argument("--cpus-per-replica", type=float, metavar="C", help="CPUs each replica reserves (default 1)")


SERVE_RAY_ONLY = ("address", "replicas", "autoscale", "gpus_per_replica", "cpus_per_replica")


def check_serve_args(args: argparse.Namespace) -> None:
    if not args.ray and (extra := _given(args, *SERVE_RAY_ONLY)):
        raise OptionError(f"{', '.join(extra)} only apply with --ray")


def run_serve(args: argparse.Namespace, settings: object) -> int:
    """`serve --ray`: validate everything before Ray starts, then serve until Ctrl+C."""
    from app.cluster import require_serve

    require_serve("serve --ray")
    from app.api.ray_serve import ServeScale, parse_autoscale, serve_forever
    from app.api.settings import ApiSettings

    assert isinstance(settings, ApiSettings)
    scale = ServeScale(
        replicas=1 if args.replicas is None else args.replicas,
        autoscale=parse_autoscale(args.autoscale) if args.autoscale is not None else None,
        gpus_per_replica=0.0 if args.gpus_per_replica is None else args.gpus_per_replica,
        cpus_per_replica=1.0 if args.cpus_per_replica is None else args.cpus_per_replica,
    )
    return serve_forever(settings, scale, args.address, args.host, args.port, verbose=args.verbose)


# ------------------------------------------------------------------------------------------------ swap --ray


def add_swap_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("video on a Ray cluster (pip extra: scale)")
    group.add_argument("--ray", action="store_true",
                       help="cut the video at keyframes and swap the pieces on Ray workers, then join them")
    group.add_argument("--address", metavar="ADDR", help=ADDRESS_HELP)
    group.add_argument("--chunk-seconds", type=float, metavar="S",
                       help="length of a piece, cut at the next keyframe (default 10)")
    group.add_argument("--ray-workers", type=int, metavar="N",
                       help="worker processes, each with its own models (default: one per GPU, else per CPU)")
    group.add_argument("--gpus-per-worker", type=float, metavar="G",
                       help="GPUs each worker reserves (default: 1 when the cluster has GPUs, else 0)")


SWAP_RAY_ONLY = ("address", "chunk_seconds", "ray_workers", "gpus_per_worker")


def check_swap_args(args: argparse.Namespace, video: bool) -> None:
    if not args.ray and (extra := _given(args, *SWAP_RAY_ONLY)):
        raise OptionError(f"{', '.join(extra)} only apply with --ray")
    if args.ray and not video:
        raise OptionError("--ray is for videos; a photo is swapped here")
    if args.ray and (getattr(args, "more_sources", None) or getattr(args, "maps", None)
                     or Path(args.source).is_dir()):
        raise OptionError("--ray takes one source photo (no --source, --map or folder yet); run without --ray")


def run_swap(args: argparse.Namespace, options: SwapOptions) -> int:
    """`swap SOURCE VIDEO -o OUT --ray`: everything checked that can be before Ray starts."""
    from app.cluster import require_ray

    require_ray("swap --ray")
    from app.cluster import connect
    from app.cluster.video import RayVideoOptions, swap_video_on_ray
    from app.commands.video_output import print_summary, progress_bar
    from app.core.image_io import read_image
    from app.core.providers import parse_provider_list
    from app.media import EncoderSettings, probe
    from app.media.formats import container_for
    from app.media.swap_job import SwapJob
    from app.models.paths import resolve_models_dir

    output = Path(args.output)
    container_for(output)
    settings = EncoderSettings(codec=args.video_codec, quality=args.video_quality, preset=args.video_preset)
    ray_options = RayVideoOptions(
        chunk_seconds=10.0 if args.chunk_seconds is None else args.chunk_seconds,
        workers=args.ray_workers, gpus_per_worker=args.gpus_per_worker,
    )
    info = probe(args.target)
    read_image(args.source)  # a clear error here rather than on a worker
    providers = parse_provider_list(args.providers)
    job = SwapJob(resolve_models_dir(args.models_dir), tuple(providers) if providers else None,
                  Path(args.source).read_bytes(), options)
    started = connect(args.address, verbose=args.verbose)
    on_progress, close_bar = progress_bar(info)
    try:
        report = swap_video_on_ray(args.target, output, job, settings, audio=args.audio, progress=on_progress,
                                   options=ray_options)
    except KeyboardInterrupt:
        close_bar()
        print(f"cancelled; {output} was not written", file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        close_bar()
        if started:
            import ray

            ray.shutdown()
    retried = f", chunks retried: {', '.join(str(c + 1) for c in report.retried_chunks)}" \
        if report.retried_chunks else ""
    print_summary(report, info, args.target, output, report.frames_with_faces,
                  f"; {report.chunks} chunks on {report.workers} Ray workers{retried}")
    return 0
