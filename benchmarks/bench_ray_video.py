"""Video swap on Ray: frames per second of a 1080p clip swapped in chunks on 1 worker and on 2 workers of a
local Ray instance (or the cluster at --address), with the single-machine job of the same run as reference.

The clip is the one of bench_video (t1.jpg x1.7 in 1920x1080, panned, six faces, AAC) with a keyframe every
second, so it can be cut. Workers are Ray actors that load the models once and swap whole chunks; each
pays, per chunk, a fresh tracker's first detection and its encoder's start. On this 2-core CPU the gain of
a second worker is bounded: each worker's onnxruntime and x264 already use both cores. Across GPUs the
chunks are independent, so N workers with a GPU each approach N times one GPU's rate until the driver
(reading and joining, stream copy only) or the encoders' CPU cores run out.

    python -m benchmarks.bench_ray_video --quick            # 48 frames, prints the result
    python -m benchmarks.bench_ray_video --frames 300 --out /tmp/ray_video.json
    python -m benchmarks.bench_ray_video --address auto --workers 1,2,4,8 --providers cuda,cpu
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import cv2

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from app.cluster import connect  # noqa: E402
from app.cluster.video import RayVideoOptions, swap_video_on_ray  # noqa: E402
from app.core.engine import Engine  # noqa: E402
from app.core.options import SwapOptions  # noqa: E402
from app.core.processor import FrameProcessor  # noqa: E402
from app.core.providers import parse_provider_list  # noqa: E402
from app.core.sessions import ModelSet  # noqa: E402
from app.core.tracker import Tracker  # noqa: E402
from app.media import EncoderSettings, process_video  # noqa: E402
from app.media.colour import from_bgr  # noqa: E402
from app.media.swap_job import SwapJob  # noqa: E402
from benchmarks.bench_video import PAN_PX, RATE, SCALE, SIZE, models_dir  # noqa: E402
from tests.standins import photos  # noqa: E402


def make_clip(path: Path, frames: int, keyint: int) -> tuple[Any, list[Any]]:
    """bench_video's 1080p clip (video only) with a keyframe every `keyint` frames."""
    scene = photos.t1()
    content = cv2.resize(scene.image, None, fx=SCALE, fy=SCALE, interpolation=cv2.INTER_AREA)
    faces = tuple(f.scaled(SCALE) for f in scene.faces)
    oy = -(content.shape[0] - SIZE[1]) // 2
    out = av.open(str(path), "w")
    vs = out.add_stream("libx264", rate=RATE, options={
        "preset": "ultrafast", "crf": "16", "x264-params": f"keyint={keyint}:min-keyint={keyint}:scenecut=0"})
    vs.width, vs.height = SIZE
    vs.pix_fmt = "yuv420p"
    first = None
    for i in range(frames):
        frame, truth = photos.place(content, faces, SIZE, (-PAN_PX * i, oy))
        first = first or (frame, truth)
        vf = from_bgr(frame, "yuv420p")
        vf.pts, vf.time_base = i, Fraction(1) / RATE
        out.mux(vs.encode(vf))
    out.mux(vs.encode(None))
    out.close()
    assert first is not None
    return first


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="48 frames, half-second chunks")
    parser.add_argument("--frames", type=int, default=240, help="clip length at 30 fps (default 240)")
    parser.add_argument("--chunk-seconds", type=float, default=None, help="default 2 (0.5 with --quick)")
    parser.add_argument("--workers", default="1,2", help="worker counts to compare (default 1,2)")
    parser.add_argument("--models", choices=("standin", "faithful"), default="standin")
    parser.add_argument("--providers", default=None, help="onnxruntime providers, e.g. cuda,cpu")
    parser.add_argument("--address", default=None, help="a Ray cluster to join (default: a local instance)")
    parser.add_argument("--preset", default="veryfast", help="x264 preset of the output (default veryfast)")
    parser.add_argument("--out", type=Path, default=None, help="also write the result here (JSON)")
    args = parser.parse_args(argv)
    frames = 48 if args.quick else args.frames
    chunk_s = args.chunk_seconds or (0.5 if args.quick else 2.0)
    keyint = max(1, round(chunk_s * float(RATE)))
    counts = [int(n) for n in args.workers.split(",")]
    providers = parse_provider_list(args.providers)
    settings = EncoderSettings(preset=args.preset)
    root = Path(tempfile.mkdtemp(prefix="bench_ray_video_"))
    try:
        clip = root / "clip_1080p.mp4"
        first, truth = make_clip(clip, frames, keyint)
        models = models_dir(args.models, root, first, truth)
        source = cv2.imencode(".png", first)[1].tobytes()
        job = SwapJob(models, tuple(providers) if providers else None, source, SwapOptions())
        engine = Engine(ModelSet(models, providers))
        t0 = time.perf_counter()
        frames_fn = FrameProcessor(engine, Tracker()).video_frames(engine.prepare_source(first), SwapOptions())
        report = process_video(clip, root / "single.mp4", frames_fn, settings)
        results: dict[str, Any] = {"single_machine": {"fps": round(report.frames / (time.perf_counter() - t0), 3)}}
        print(f"single machine: {results['single_machine']['fps']:.2f} fps", flush=True)
        t1 = time.perf_counter()
        connect(args.address)
        import ray

        results["ray_start_s"] = round(time.perf_counter() - t1, 1)
        results["cluster"] = {k: v for k, v in ray.cluster_resources().items() if k in ("CPU", "GPU", "memory")}
        for n in counts:
            t2 = time.perf_counter()
            rep = swap_video_on_ray(clip, root / f"ray{n}.mp4", job, settings,
                                    options=RayVideoOptions(chunk_seconds=chunk_s, workers=n))
            seconds = time.perf_counter() - t2  # including the workers' start and model loads
            results[f"workers_{n}"] = {"fps": round(rep.frames / seconds, 3), "seconds": round(seconds, 2),
                                       "chunks": rep.chunks, "frames": rep.frames,
                                       "stage_ms_per_frame": {k: round(v, 1) for k, v in rep.stage_ms.items()}}
            print(f"{n} worker(s): {rep.frames} frames in {rep.chunks} chunks, {seconds:.1f} s = "
                  f"{rep.frames / seconds:.2f} fps", flush=True)
        base = results[f"workers_{counts[0]}"]["fps"]
        doc = {
            "benchmark": "1080p video swap in chunks on Ray workers",
            "clip": {"size": list(SIZE), "fps": float(RATE), "frames": frames, "keyframe_every": keyint},
            "chunk_seconds": chunk_s, "models": args.models, "encoder_preset": args.preset,
            "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
            "results": results,
            "speedup": {f"workers_{n}": round(results[f"workers_{n}"]["fps"] / base, 3) for n in counts},
            "note": "fps = frames / wall time of the whole job, workers' start and model loading included",
        }
        print(json.dumps(doc, indent=2))
        if args.out is not None:
            args.out.write_text(json.dumps(doc, indent=2) + "\n")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
