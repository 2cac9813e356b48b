"""Paste-back cost for one face: ours against insightface's INSwapper.get(paste_back=True).

Same frame, same five points, same swapped crop, same run. insightface's paste-back time is measured as
get(paste_back=True) minus get(paste_back=False) on a tiny stand-in swap model (its inference is ~0.1 ms, and
the subtraction removes it); both calls are interleaved so its full-frame temporaries meet the allocator in
the same state each time. Ours is `FacePaster.paste` on a frame copy made outside the timed part.

    python -m benchmarks.bench_paste            # writes benchmarks/results/paste.json
"""

from __future__ import annotations

import contextlib
import io
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
from insightface.model_zoo import get_model
from insightface.utils import face_align

from app.core.paste import FacePaster
from app.core.swap import align_crop

RESULTS = Path(__file__).parent / "results" / "paste.json"
CASES = {  # name: (width, height, eye distance in px)
    "720p": (1280, 720, 60.0),
    "1080p": (1920, 1080, 90.0),
    "1080p close-up": (1920, 1080, 200.0),
}


def scene(width: int, height: int, eye_distance: float) -> tuple[np.ndarray, np.ndarray]:
    """A frame of real photo content with a face of the given eye distance at its centre."""
    from skimage import data

    photo = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)
    frame = cv2.resize(photo, (width, height), interpolation=cv2.INTER_LINEAR)
    dst = face_align.arcface_dst.astype(np.float64)
    scale = eye_distance / float(np.linalg.norm(dst[1] - dst[0]))
    points = (dst - dst.mean(axis=0)) * scale + np.array([width / 2.0, height / 2.0])
    return np.ascontiguousarray(frame), points.astype(np.float32)


def run(repeats: int = 40) -> dict[str, object]:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests.standins.inswapper import build_inswapper

    cv2.setNumThreads(1)  # both sides single-threaded: a fair, steadier comparison on a busy 2-core box
    with tempfile.TemporaryDirectory() as tmp:
        model_path = build_inswapper(Path(tmp) / "inswapper_128.onnx")
        with contextlib.redirect_stdout(io.StringIO()):
            inswapper = get_model(str(model_path), providers=["CPUExecutionProvider"])
        source = SimpleNamespace(normed_embedding=np.full(512, 1 / np.sqrt(512), dtype=np.float32))
        paster = FacePaster()
        results: dict[str, object] = {}
        for name, (w, h, eye) in CASES.items():
            frame, points = scene(w, h, eye)
            target = SimpleNamespace(kps=points)
            crop, matrix = align_crop(frame, points, 128)
            swapped = np.ascontiguousarray(255 - crop)
            out = frame.copy()

            ours_ms, ours_cc_ms = [], []
            with_paste, without_paste = [], []
            for _ in range(repeats):
                for reference, times in ((None, ours_ms), (crop, ours_cc_ms)):
                    np.copyto(out, frame)  # a fresh target outside the timed part
                    t0 = time.perf_counter()
                    paster.paste(out, swapped, matrix, blend=0.8, colour_reference=reference)
                    times.append((time.perf_counter() - t0) * 1000.0)
                t0 = time.perf_counter()
                inswapper.get(frame, target, source, paste_back=True)
                with_paste.append((time.perf_counter() - t0) * 1000.0)
                t0 = time.perf_counter()
                inswapper.get(frame, target, source, paste_back=False)
                without_paste.append((time.perf_counter() - t0) * 1000.0)
            insight = statistics.median(with_paste) - statistics.median(without_paste)
            mine = statistics.median(ours_ms)
            mine_cc = statistics.median(ours_cc_ms)
            region = paster.paste(out, swapped, matrix)
            results[name] = {
                "frame": f"{w}x{h}",
                "eye_distance_px": eye,
                "region_px": None if region is None else [region[2] - region[0], region[3] - region[1]],
                "insightface_ms": round(insight, 3),
                "ours_ms": round(mine, 3),
                "ours_colour_correction_ms": round(mine_cc, 3),
                "colour_correction_adds_ms": round(mine_cc - mine, 3),
                "speedup": round(insight / mine, 1),
            }
    return {"benchmark": "paste-back, one face", "repeats": repeats, "opencv_threads": 1, "cases": results}


def main() -> None:
    result = run()
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(f"{'case':16} {'insightface':>12} {'ours':>8} {'+colour':>8} {'speedup':>8}")
    for name, r in result["cases"].items():  # type: ignore[union-attr]
        print(f"{name:16} {r['insightface_ms']:>10.2f}ms {r['ours_ms']:>6.2f}ms "
              f"{r['ours_colour_correction_ms']:>6.2f}ms {r['speedup']:>7.0f}x")


if __name__ == "__main__":
    main()
