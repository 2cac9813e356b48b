"""Frames per second of the swap on a GPU (or the CPU), end to end per frame, for each backend available here.

For one and four faces at 720p and 1080p, swap only and with GFPGAN, fp32 and fp16: the model milliseconds per
stage (swap, paste, restore; detection timed apart, since it runs every 5th frame beside the worker) and the
end-to-end milliseconds per frame (the frame handed to the engine until the output frame is back in host
memory: on the torch backend one upload, the device work, one download), hence frames per second. Writes JSON.

Models: the architecture-faithful stand-ins (benchmarks/faithful_models.py: inswapper_128 with the real graph's
structure and widths, det_10g, and a GFPGANv1.4.pth of the real architecture, all with random weights), so a
millisecond means what it would with the real files.

Runs on a bare CUDA machine with torch, numpy, opencv-python-headless, onnx, onnxruntime (CPU) and scikit-image
(insightface, onnx2torch and platformdirs travel as wheels): it imports nothing of PySide6, PyAV, FastAPI or
pyvirtualcam (tests/test_bench_gpu.py checks). On a GPU machine, from a checkout:

    pip install --no-deps insightface onnx2torch platformdirs   # or the wheels carried there
    PYTHONPATH=. python -m benchmarks.bench_gpu                    # every case, every backend: a few minutes
    PYTHONPATH=. python -m benchmarks.bench_gpu --device cpu --quick  # this machine: one face, 720p

Results: benchmarks/results/gpu_<device>.json.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
SIZES = {"720p": (1280, 720), "1080p": (1920, 1080)}


@dataclass(frozen=True)
class Case:
    backend: str  # torch | onnxruntime
    precision: str  # fp32 | fp16
    size: str  # 720p | 1080p
    faces: int
    restore: bool

    @property
    def name(self) -> str:
        return f"{self.backend} {self.precision} {self.size} {self.faces} face(s){' + GFPGAN' if self.restore else ''}"


def scene(size: str, faces: int) -> tuple[Any, list[Any]]:
    """A frame of `size` (insightface's t1.jpg, six annotated faces, scaled to fill it) and `faces` of its
    faces, as the tracker would hand them over."""
    import cv2

    from app.core.types import Face
    from tests.standins import photos

    t1 = photos.t1()
    width, height = SIZES[size]
    scale = max(width / t1.image.shape[1], height / t1.image.shape[0])
    image = cv2.resize(t1.image, (round(t1.image.shape[1] * scale), round(t1.image.shape[0] * scale)))
    frame = np.ascontiguousarray(image[:height, :width])
    chosen = [f.scaled(scale) for f in t1.faces][:faces]
    return frame, [Face(f.box, f.points.astype(np.float32), 0.9) for f in chosen]


def engine_for(models: Path, case: Case, providers: list[str]) -> Any:
    from app.core.engine import Engine
    from app.core.options import EngineOptions
    from app.core.sessions import ModelSet

    return Engine(ModelSet(models, providers, EngineOptions(backend=case.backend, precision=case.precision)))  # type: ignore[arg-type]


def measure(engine: Any, case: Case, reps: int) -> dict[str, Any]:
    from app.core.options import RestoreOptions, SwapOptions

    frame, faces = scene(case.size, case.faces)
    rng = np.random.default_rng(0)
    embedding = rng.standard_normal(512).astype(np.float32)
    source = engine.source_for(faces[0].with_embedding(embedding))
    options = SwapOptions(restore=RestoreOptions() if case.restore else None)
    for _ in range(3):  # warm-up: loading, CUDA graph capture, allocator
        engine.swap(frame, faces, [source] * len(faces), options)
    totals, stages = [], []
    for _ in range(reps):
        t0 = time.perf_counter()
        result = engine.swap(frame, faces, [source] * len(faces), options)
        totals.append((time.perf_counter() - t0) * 1000.0)
        stages.append(result.timings)
    det = []
    # Random weights score every anchor near 0.5: a high threshold keeps the candidates to the few a trained
    # detector gives, so the time is the network's, not a sort of thousands of boxes.
    detection = SwapOptions(det_threshold=0.99)
    engine.detect(frame, detection)
    for _ in range(max(1, reps // 2)):
        t0 = time.perf_counter()
        engine.detect(frame, detection)
        det.append((time.perf_counter() - t0) * 1000.0)
    end_to_end = statistics.median(totals)
    detect_ms = statistics.median(det)
    return {
        "case": case.name, **case.__dict__,
        "runs_on": engine.models.loaded_providers(),
        "stage_ms": {k: round(statistics.median(s[k] for s in stages), 2) for k in stages[0]},
        "detect_ms": round(detect_ms, 2),
        "end_to_end_ms": round(end_to_end, 2),
        "fps": round(1000.0 / end_to_end, 1),
        "fps_with_detection_every_5th_frame": round(1000.0 / (end_to_end + detect_ms / 5.0), 1),
        "reps": reps,
    }


def cases(device: str, quick: bool, backends: list[str]) -> list[Case]:
    precisions = ["fp32"] if device == "cpu" else ["fp32", "fp16"]
    sizes = ["720p"] if quick else ["720p", "1080p"]
    face_counts = [1] if quick else [1, 4]
    out = []
    for backend in backends:
        for precision in precisions if backend == "torch" else ["fp32"]:
            for size in sizes:
                for faces in face_counts:
                    for restore in (False, True):
                        out.append(Case(backend, precision, size, faces, restore))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", choices=("auto", "cuda", "cpu"), default="auto",
                        help="cpu hides any GPU from torch and onnxruntime")
    parser.add_argument("--quick", action="store_true", help="one face at 720p only")
    parser.add_argument("--reps", type=int, default=0, help="timed frames per case (default 20 on a GPU, 2 on CPU)")
    parser.add_argument("--backends", help="comma-separated (default: torch, and onnxruntime where it has a GPU "
                                           "provider or the device is the CPU)")
    parser.add_argument("--models", type=Path, help="a models folder to use instead of the faithful stand-ins")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    if args.device == "cpu":
        os.environ["CUDA_VISIBLE_DEVICES"] = ""  # before torch or onnxruntime look
    sys.path.insert(0, str(ROOT))
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    import onnxruntime as ort

    from app.core.torch_backend.device import gpu_available
    from benchmarks import faithful_models

    device = "cuda" if args.device == "auto" and gpu_available() else "cpu" if args.device != "cuda" else "cuda"
    reps = args.reps or (20 if device == "cuda" else 3)
    models = args.models or faithful_models.CACHE_DIR
    if args.models is None:
        for key in ("inswapper_128", "det_10g"):
            faithful_models.build(key)
        faithful_models.build_gfpgan_pth()
    gpu_ort = "CUDAExecutionProvider" in ort.get_available_providers() and device == "cuda"
    providers = ["CUDAExecutionProvider", "CPUExecutionProvider"] if gpu_ort else ["CPUExecutionProvider"]
    rows = []
    default = "torch,onnxruntime" if gpu_ort or device == "cpu" else "torch"
    wanted = [b.strip() for b in (args.backends or default).split(",") if b.strip()]
    engines: dict[tuple[str, str], Any] = {}
    for case in cases(device, args.quick, wanted):
        key = (case.backend, case.precision)
        if key not in engines:
            engines[key] = engine_for(models, case, providers)
        row = measure(engines[key], case, reps)
        rows.append(row)
        print(f"{case.name:<48} {row['end_to_end_ms']:>9.1f} ms/frame {row['fps']:>7.1f} fps  "
              f"stages {row['stage_ms']}  detect {row['detect_ms']:.1f} ms", flush=True)
    doc = {
        "benchmark": "swap end to end per frame (upload to download), per backend, faithful models",
        "device": device,
        "machine": _machine(device),
        "load_average": os.getloadavg(),
        "onnxruntime_providers": providers,
        "goal": "H100/H200-class GPU, one face, 720p: swap only >= 200 fps; with GFPGAN >= 100 fps",
        "rows": rows,
    }
    out = args.out or RESULTS / f"gpu_{device}.json"
    if not args.quick or args.out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(doc, indent=2) + "\n")
        print(f"wrote {out}")
    return 0


def _machine(device: str) -> dict[str, Any]:
    info: dict[str, Any] = {"platform": platform.platform(), "python": platform.python_version(),
                            "cpus": os.cpu_count()}
    try:
        import torch

        info["torch"] = torch.__version__
        if device == "cuda":
            info["gpu"] = torch.cuda.get_device_name(0)
    except ImportError:
        pass
    import onnxruntime

    info["onnxruntime"] = onnxruntime.__version__
    return info


if __name__ == "__main__":
    raise SystemExit(main())
