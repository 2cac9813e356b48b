"""Frame operations around the models, per frame: the device path (upload, align, paste, download) against
the CPU path (frame copy, cv2 alignment, FacePaster), models excluded.

The model is replaced by an inversion (1 - x) on the same device, so what is timed is the frame's way
through alignment and paste-back. Faces are the astronaut's, at an eye distance of 60 px (720p) or 90 px
(1080p), one at the centre or four in a 2x2 layout; blend 0.8 with colour correction (the defaults).

- `device`: transfer.upload -> swap_faces (align_crops, conversions, DevicePaster.paste) -> transfer.download,
  timed end to end (the download waits for the device), the frame in a FrameTransfer.host_frame() as a
  capture would decode it (pinned on CUDA: no host copy); `pageable` with an ordinary numpy frame instead.
- `diff`: the largest level difference between the device path's output frame and the CPU path's (a
  correctness check on the device at hand: 1, or 2 where a crop pixel already differed by one).
- `device stages`: the same with a device sync after each stage, for a breakdown (adds the syncs' cost).
- `cpu`: frame.copy() -> per face align_crop, the inverted crop, FacePaster.paste with colour correction.

    python -m benchmarks.bench_frame_ops --device cpu --quick [--threads 1]
    python -m benchmarks.bench_frame_ops --device cuda [--json out.json]

Nothing is written unless --json is given.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from benchmarks.timing import median_ms

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

CASES = {"720p": (1280, 720, 60.0), "1080p": (1920, 1080, 90.0)}
FACE_COUNTS = (1, 4)


def scene(width: int, height: int, eye_distance: float, faces: int) -> tuple[np.ndarray, list[np.ndarray]]:
    """A frame of real photo content and `faces` five-point sets of the given eye distance."""
    from insightface.utils import face_align
    from skimage import data

    photo = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)
    frame = np.ascontiguousarray(cv2.resize(photo, (width, height), interpolation=cv2.INTER_LINEAR))
    dst = face_align.arcface_dst.astype(np.float64)
    scale = eye_distance / float(np.linalg.norm(dst[1] - dst[0]))
    centres = [(0.5, 0.5)] if faces == 1 else [(0.3, 0.3), (0.7, 0.3), (0.3, 0.7), (0.7, 0.7)][:faces]
    points = [((dst - dst.mean(axis=0)) * scale + np.array([cx * width, cy * height])).astype(np.float32)
              for cx, cy in centres]
    return frame, points


def pick_device(name: str) -> str:
    import torch

    if name != "auto":
        return name
    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def sync(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()
    elif device == "mps":
        torch.mps.synchronize()


class Paths:
    """The two ways through a frame, with what they hold between frames."""

    def __init__(self, device: str) -> None:
        import torch

        from app.core.paste import FacePaster
        from app.core.torch_backend.paste_ops import DevicePaster
        from app.core.torch_backend.transfer import FrameTransfer

        self.device = device
        self.transfer = FrameTransfer(device)
        self.paster = DevicePaster(128, device)
        self.cpu_paster = FacePaster()
        self.stages = dict.fromkeys(("upload", "align", "model io", "paste", "download"), 0.0)
        self.model: Callable[[torch.Tensor], torch.Tensor] = lambda x: 1.0 - x

    def device_frame(self, frame: np.ndarray, points: list[np.ndarray]) -> np.ndarray:
        from app.core.swap import alignment_matrix
        from app.core.torch_backend.device_faces import swap_faces

        target = self.transfer.upload(frame)
        matrices = [alignment_matrix(p, 128) for p in points]
        swap_faces(target, matrices, self.model, self.paster, blend=0.8, color_correction=True)
        return self.transfer.download(target)

    def device_stages(self, frame: np.ndarray, points: list[np.ndarray]) -> None:
        from app.core.swap import alignment_matrix
        from app.core.torch_backend.frame_ops import align_crops, from_swapper_output, to_swapper_input

        marks = [time.perf_counter()]

        def mark() -> None:
            sync(self.device)
            marks.append(time.perf_counter())

        target = self.transfer.upload(frame)
        mark()
        matrices = [alignment_matrix(p, 128) for p in points]
        crops = align_crops(target, matrices, 128)
        mark()
        swapped = from_swapper_output(self.model(to_swapper_input(crops)))
        mark()
        self.paster.paste(target, swapped, matrices, blend=0.8, colour_references=crops)
        mark()
        self.transfer.download(target)
        mark()
        for key, t0, t1 in zip(self.stages, marks[:-1], marks[1:], strict=True):
            self.stages[key] += (t1 - t0) * 1000.0

    def cpu_frame(self, frame: np.ndarray, points: list[np.ndarray]) -> np.ndarray:
        from app.core.swap import align_crop

        out = frame.copy()
        for p in points:
            crop, matrix = align_crop(frame, p, 128)
            self.cpu_paster.paste(out, inverted(crop), matrix, blend=0.8, colour_reference=crop)
        return out


def inverted(crop: np.ndarray) -> np.ndarray:
    """The stand-in model (1 - x) on a crop as the device path computes it: float32 in [0, 1], truncated."""
    x = crop.astype(np.float32) * np.float32(1.0 / 255.0)
    return np.floor(np.clip(np.float32(255.0) * (np.float32(1.0) - x), 0, 255)).astype(np.uint8)


def run(device: str, repeats: int) -> dict[str, object]:
    import torch

    paths = Paths(device)
    results: dict[str, object] = {}
    for case, (w, h, eye) in CASES.items():
        for n in FACE_COUNTS:
            frame, points = scene(w, h, eye, n)
            captured = paths.transfer.host_frame(frame.shape)  # where a capture would decode to (pinned on CUDA)
            np.copyto(captured, frame)
            device_ms = median_ms(lambda f=captured, p=points: paths.device_frame(f, p), repeats, warmup=3)  # type: ignore[misc]
            pageable_ms = median_ms(lambda f=frame, p=points: paths.device_frame(f, p), repeats, warmup=3)  # type: ignore[misc]
            diff = np.abs(paths.device_frame(frame, points).astype(np.int16) - paths.cpu_frame(frame, points))
            paths.stages = dict.fromkeys(paths.stages, 0.0)
            for _ in range(repeats):
                paths.device_stages(frame, points)
            cpu_ms = median_ms(lambda f=frame, p=points: paths.cpu_frame(f, p), repeats, warmup=3)  # type: ignore[misc]
            results[f"{case} x{n}"] = {
                "frame": f"{w}x{h}",
                "faces": n,
                "device_ms": round(device_ms, 3),
                "device_pageable_frame_ms": round(pageable_ms, 3),
                "max_level_difference_to_cpu": int(diff.max()),
                "device_stage_ms": {k: round(v / repeats, 3) for k, v in paths.stages.items()},
                "cpu_ms": round(cpu_ms, 3),
            }
    return {
        "benchmark": "frame operations per frame (upload, align, paste, download), models excluded",
        "device": device,
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "opencv": cv2.__version__,
        "repeats": repeats,
        "cases": results,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--device", default="auto", help="cuda, cuda:1, mps, cpu or auto (default)")
    parser.add_argument("--quick", action="store_true", help="a few repeats: a smoke run")
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--json", type=Path, default=None, help="also write the results to this file")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch and OpenCV CPU threads (default: theirs; 1 is steadier on a busy machine)")
    args = parser.parse_args(argv)
    if args.threads is not None:
        import torch

        torch.set_num_threads(args.threads)
        cv2.setNumThreads(args.threads)
    device = pick_device(args.device)
    repeats = args.repeats or (3 if args.quick else 30)
    result = run(device, repeats)
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    print(f"device {device}, torch {result['torch']} ({result['torch_threads']} threads), opencv {result['opencv']}")
    print(f"{'case':12} {'device ms':>10} {'pageable':>9} {'cpu ms':>8} {'diff':>5}   device stages (synced)")
    for name, r in result["cases"].items():  # type: ignore[union-attr]
        stages = " ".join(f"{k} {v:.2f}" for k, v in r["device_stage_ms"].items())
        print(f"{name:12} {r['device_ms']:>10.2f} {r['device_pageable_frame_ms']:>9.2f} {r['cpu_ms']:>8.2f} "
              f"{r['max_level_difference_to_cpu']:>5}   {stages}")


if __name__ == "__main__":
    main()
