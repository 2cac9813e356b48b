"""Video swap throughput: the pipelined job (decoder thread -> queue -> processing -> queue -> encoder thread,
app.media.process_video) against a plain sequential decode-process-encode loop, same clip, same
processor, same encoder, same run.

The clip: insightface's t1.jpg (six faces) scaled 1.7x into 1920x1080 and panned 3 px per frame, 30 fps,
with an AAC sine track, written here. Faces are followed by the live tracker; detections come from a
det_10g-shaped stand-in built on the clip's first frame that follows content (tests/standins), because a
random-weight detector finds no faces. Models:

- `--models standin` (default): the small stand-in swapper/recogniser of tests/standins (cheap inference:
  the timing is mostly decode, tracking, paste-back and encode, where the pipeline matters most).
- `--models faithful`: architecture-faithful random-weight inswapper_128 and w600k_r50 from
  benchmarks/faithful_models.py, and the faithful det_10g is run on every detection as well (its result
  dropped, the stand-in's used), so every model's cost is real. On a CPU a face costs seconds: use
  `--faces largest --frames 8` there; on a GPU the defaults.

    python -m benchmarks.bench_video                       # writes benchmarks/results/video.json
    python -m benchmarks.bench_video --models faithful --faces largest --frames 8 --providers cuda,cpu
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
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from app.core.analysis import detect_faces  # noqa: E402
from app.core.engine import Engine  # noqa: E402
from app.core.options import SwapOptions  # noqa: E402
from app.core.processor import FrameProcessor  # noqa: E402
from app.core.providers import parse_provider_list  # noqa: E402
from app.core.sessions import ModelSet  # noqa: E402
from app.core.tracker import Tracker  # noqa: E402
from app.core.types import Face, Frame  # noqa: E402
from app.media import EncoderSettings, FrameFunction, process_video  # noqa: E402
from app.media.colour import from_bgr  # noqa: E402
from app.media.reader import VideoItem, VideoReader  # noqa: E402
from app.media.writer import VideoWriter, plan_audio  # noqa: E402
from tests.standins import build_inswapper, build_recognizer, build_tracking_detector, photos  # noqa: E402

RESULTS = Path(__file__).parent / "results" / "video.json"
SIZE = (1920, 1080)
SCALE = 1.7
PAN_PX = 3
RATE = Fraction(30)


def make_clip(path: Path, frames: int) -> tuple[Frame, list[Any]]:
    """Write the 1080p clip; return its first frame and that frame's true faces."""
    scene = photos.t1()
    content = cv2.resize(scene.image, None, fx=SCALE, fy=SCALE, interpolation=cv2.INTER_AREA)
    faces = tuple(f.scaled(SCALE) for f in scene.faces)
    oy = -(content.shape[0] - SIZE[1]) // 2
    out = av.open(str(path), "w")
    vs = out.add_stream("libx264", rate=RATE, options={"preset": "ultrafast", "crf": "16"})
    vs.width, vs.height = SIZE
    vs.pix_fmt = "yuv420p"
    astream = out.add_stream("aac", rate=48000)
    astream.layout = "stereo"
    first: tuple[Frame, list[Any]] | None = None
    for i in range(frames):
        frame, truth = photos.place(content, faces, SIZE, (-PAN_PX * i, oy))
        if first is None:
            first = (frame, truth)
        vf = from_bgr(frame, "yuv420p")
        vf.pts = i
        out.mux(vs.encode(vf))
    out.mux(vs.encode(None))
    n = round(frames / float(RATE) * 48000)
    wave = (0.2 * np.sin(2 * np.pi * 440 * np.arange(n) / 48000)).astype(np.float32)
    for start in range(0, n, 1024):
        chunk = np.repeat(wave[None, start : start + 1024], 2, axis=0)
        af = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="stereo")
        af.sample_rate, af.pts, af.time_base = 48000, start, Fraction(1, 48000)
        out.mux(astream.encode(af))
    out.mux(astream.encode(None))
    out.close()
    assert first is not None
    return first


def models_dir(kind: str, root: Path, first: Frame, truth: list[Any]) -> Path:
    """A models folder: the swapper and recogniser of `kind`, and the content-following detector."""
    models = root / "models"
    (models / "buffalo_l").mkdir(parents=True)
    build_tracking_detector(models / "buffalo_l" / "det_10g.onnx", first, truth)
    if kind == "standin":
        build_inswapper(models / "inswapper_128.onnx")
        build_recognizer(models / "buffalo_l" / "w600k_r50.onnx")
    else:
        from benchmarks import faithful_models

        built = faithful_models.build_all()
        for key, name in (("inswapper_128", "inswapper_128.onnx"), ("w600k_r50", "buffalo_l/w600k_r50.onnx")):
            os.symlink(built[key], models / name)
    return models


def make_processor(engine: Engine, options: SwapOptions, extra_detector: Any) -> FrameProcessor:
    def detect(frame: Frame) -> list[Face]:
        if extra_detector is not None:  # the faithful det_10g's cost; its random output is dropped
            detect_faces(extra_detector, frame, options.det_size, options.det_threshold)
        return engine.detect(frame, options)

    return FrameProcessor(engine, Tracker(), detect=detect)


def run_sequential(clip: Path, out: Path, process: FrameFunction, settings: EncoderSettings) -> dict[str, Any]:
    """The plain loop: one thread decodes a frame, processes it, encodes it, and so on."""
    t0 = time.perf_counter()
    spent = {"decode": 0.0, "process": 0.0, "encode": 0.0}
    reader = VideoReader(clip)
    plan = plan_audio(reader, "mp4", "auto")
    writer = VideoWriter(out, reader, settings, plan)
    frames = 0
    try:
        items = reader.items(plan.encode, plan.copy)
        while True:
            ta = time.perf_counter()
            item = next(items, None)
            tb = time.perf_counter()
            spent["decode"] += tb - ta
            if item is None:
                break
            if isinstance(item, VideoItem):
                result = process(item.frame, item.seconds)
                tc = time.perf_counter()
                spent["process"] += tc - tb
                writer.write_frame(result, item.pts)
                spent["encode"] += time.perf_counter() - tc
                frames += 1
            else:
                writer.write_audio(item)
        tc = time.perf_counter()
        writer.close()
        spent["encode"] += time.perf_counter() - tc
        writer.commit()
    except BaseException:
        writer.abort()
        raise
    finally:
        reader.close()
    seconds = time.perf_counter() - t0
    return {"frames": frames, "seconds": round(seconds, 3), "fps": round(frames / seconds, 3),
            "ms_per_frame": {k: round(v * 1000 / max(frames, 1), 2) for k, v in spent.items()}}


def run_pipeline(clip: Path, out: Path, process: FrameFunction, settings: EncoderSettings) -> dict[str, Any]:
    report = process_video(clip, out, process, settings)
    return {"frames": report.frames, "seconds": round(report.seconds, 3), "fps": round(report.fps, 3),
            "ms_per_frame_main_thread": {k: round(v, 2) for k, v in report.stage_ms.items()}}


def stage_costs(clip: Path, out: Path, settings: EncoderSettings) -> dict[str, float]:
    """Decode alone and decode + encode alone (no processing), frames per second: the pipeline's ceiling."""
    t0 = time.perf_counter()
    with VideoReader(clip) as reader:
        n = sum(1 for item in reader.items() if isinstance(item, VideoItem))
    decode_fps = n / (time.perf_counter() - t0)
    report = process_video(clip, out, lambda frame, t: frame, settings)
    return {"decode_only_fps": round(decode_fps, 2), "decode_encode_fps": round(report.fps, 2)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", choices=("standin", "faithful"), default="standin")
    parser.add_argument("--frames", type=int, default=60, help="clip length in frames at 30 fps (default 60)")
    parser.add_argument("--faces", choices=("all", "largest"), default="all")
    parser.add_argument("--codec", default=None, help="video encoder (default: libx264)")
    parser.add_argument("--preset", default=None, help="encoder preset (default: medium)")
    parser.add_argument("--quality", type=int, default=None, help="CRF (default 18)")
    parser.add_argument("--repeats", type=int, default=2, help="runs of each, interleaved (default 2)")
    parser.add_argument("--providers", default=None, help="onnxruntime providers, e.g. cuda,cpu")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    settings = EncoderSettings(codec=args.codec, quality=args.quality, preset=args.preset)
    options = SwapOptions(faces=args.faces)
    providers = parse_provider_list(args.providers)
    root = Path(tempfile.mkdtemp(prefix="bench_video_"))
    try:
        t0 = time.perf_counter()
        clip = root / "clip_1080p.mp4"
        first, truth = make_clip(clip, args.frames)
        models = models_dir(args.models, root, first, truth)
        engine = Engine(ModelSet(models, providers))
        extra = None
        if args.models == "faithful":
            from benchmarks import faithful_models

            extra = ModelSet(faithful_models.CACHE_DIR, providers).detector
        source = engine.prepare_source(first, options)
        setup_s = time.perf_counter() - t0
        # warm-up: sessions, caches and the encoder's first open, outside the timings
        make_processor(engine, options, extra).process(first, source, options, 0.0)
        results: dict[str, Any] = {"sequential": [], "pipeline": []}
        costs = stage_costs(clip, root / "plain.mp4", settings)
        for rep in range(args.repeats):  # interleaved, so a noisy neighbour on the machine hits both alike
            for name, runner in (("sequential", run_sequential), ("pipeline", run_pipeline)):
                processor = make_processor(engine, options, extra)
                run = runner(clip, root / f"{name}.mp4", processor.video_frames(source, options), settings)
                run["frames_with_faces"] = processor.frames_with_faces
                assert processor.tracker is not None
                run["detections_per_frame"] = round(processor.tracker.detection_ratio, 3)
                run["processor_ms_per_frame"] = {
                    k: round(v / max(processor.frames, 1), 2) for k, v in processor.stage_totals.items()}
                results[name].append(run)
                print(f"{name:>10} #{rep + 1}: {run['frames']} frames in {run['seconds']:.1f} s "
                      f"= {run['fps']:.2f} fps", flush=True)
        fps = {name: round(sum(r["frames"] for r in runs) / sum(r["seconds"] for r in runs), 3)
               for name, runs in results.items()}
        with av.open(str(root / "pipeline.mp4")) as c:
            codec = c.streams.video[0].codec_context.name
            audio = [s.codec_context.name for s in c.streams.audio]
        speedup = fps["pipeline"] / fps["sequential"]
        doc = {
            "benchmark": "1080p video swap: pipelined job against a sequential decode-process-encode loop",
            "clip": {"size": list(SIZE), "fps": float(RATE), "frames": args.frames, "content":
                     f"t1.jpg x{SCALE}, panned {PAN_PX} px/frame, 6 faces, AAC stereo audio"},
            "models": args.models,
            "faces": args.faces,
            "providers": engine.models.loaded_providers(),
            "encoder": {"codec": codec, "preset": args.preset or "medium (default)",
                        "quality": args.quality if args.quality is not None else "crf 18 (default)"},
            "output_audio": audio,
            "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
                        "pyav": av.__version__},
            "stages_without_processing": costs,
            "fps": fps,
            "speedup": round(speedup, 3),
            "runs": results,
            "setup_s": round(setup_s, 1),
            "note": "fps = all frames / all seconds over the repeats; sequential and pipeline runs alternate in one "
                    "process on the same clip, processor and encoder; the machine's cores may be shared with other "
                    "work, so compare the numbers of one run",
        }
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(doc, indent=2) + "\n")
        print(f"pipeline / sequential: {speedup:.2f}x -> {args.out}")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
