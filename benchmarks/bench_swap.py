"""Whole-photo swap time per face with architecture-faithful stand-ins, split by stage.

The faithful files (benchmarks/faithful_models.py: random weights, the real layer shapes) cost what the real
inswapper_128, det_10g and w600k_r50 cost. Their random weights find no faces, so detection is timed on the
photo and the swap then runs on the photo's annotated faces (insightface's t1.jpg, six faces).
Non-model overhead = everything the engine does besides `session.run` of the models (alignment, blobs,
post-processing, paste-back), measured in the same run as the model calls it surrounds.

    python -m benchmarks.bench_swap          # writes benchmarks/results/swap.json
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from benchmarks.timing import median_ms

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).parent / "results" / "swap.json"


def run(repeats: int = 3) -> dict[str, object]:
    sys.path.insert(0, str(ROOT))
    from app.core.engine import Engine, SourceFace
    from app.core.options import SwapOptions
    from app.core.sessions import ModelSet
    from app.core.swap import align_crop, source_latent
    from app.core.types import Face
    from benchmarks import faithful_models
    from tests.standins import photos

    faithful_models.build_all()
    models = ModelSet(faithful_models.CACHE_DIR, ["CPUExecutionProvider"])
    engine = Engine(models)
    scene = photos.t1()
    image = np.array(scene.image)
    faces = [Face(box=f.box, points=f.points, score=1.0) for f in scene.faces]
    options = SwapOptions()

    # source: one face embedded once
    source_face = engine.embed(photos.astronaut().image, Face(
        box=photos.astronaut().faces[0].box, points=photos.astronaut().faces[0].points, score=1.0))
    source = SourceFace(face=source_face, latent=source_latent(models.swapper, source_face.embedding))

    detect_ms = median_ms(lambda: engine.detect(image, options), repeats)
    det_blob = cv2.dnn.blobFromImage(cv2.resize(image, (640, 443)), 1 / 128, (640, 640), (127.5,) * 3, swapRB=True)
    det_model_ms = median_ms(lambda: models.detector.session.run(None, {"input.1": det_blob}), repeats)
    embed_ms = median_ms(lambda: engine.embed(image, faces[0]), repeats)

    swapper = models.swapper
    crop, _ = align_crop(image, faces[0].points, 128)
    blob = cv2.dnn.blobFromImage(crop, 1 / 255, (128, 128), (0, 0, 0), swapRB=True)
    swap_model_ms = median_ms(lambda: swapper.session.run(None, {"target": blob, "source": source.latent}), repeats)

    result = engine.swap(image, faces, [source] * len(faces), options)  # warm-up
    totals = []
    stage_runs = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = engine.swap(image, faces, [source] * len(faces), options)
        totals.append((time.perf_counter() - t0) * 1000.0)
        stage_runs.append(result.timings)
    swap_all_ms = statistics.median(totals)
    stages = {k: statistics.median(r[k] for r in stage_runs) for k in stage_runs[0]}
    n = len(faces)
    restore = restore_share(engine, image, source, faces[0], repeats)
    per_face_ms = (detect_ms + swap_all_ms) / n
    model_per_face_ms = (det_model_ms + n * swap_model_ms) / n
    overhead = per_face_ms - model_per_face_ms
    return {
        "benchmark": "whole-photo swap with faithful stand-ins (t1.jpg, 1280x886, 6 faces)",
        "providers": models.loaded_providers(),
        "repeats": repeats,
        "faces": n,
        "detect_ms": round(detect_ms, 1),
        "detector_model_ms": round(det_model_ms, 1),
        "source_embedding_ms": round(embed_ms, 1),
        "swap_all_faces_ms": round(swap_all_ms, 1),
        "stages_all_faces_ms": {k: round(v, 1) for k, v in stages.items()},
        "inswapper_model_ms_per_face": round(swap_model_ms, 1),
        "per_face_ms": round(per_face_ms, 1),
        "non_model_overhead_ms_per_face": round(overhead, 2),
        "non_model_overhead_share": round(overhead / per_face_ms, 4),
        "swap_plus_restore_one_face": restore,
    }


def restore_share(engine, image, source, face, repeats: int) -> dict[str, object] | str:
    """Share of restoration in a swap+restore of one face, with the faithful GFPGAN v1.4 (random weights,
    the real architecture) when benchmarks/bench_restore_models.py has built it."""
    from app.core.options import RestoreOptions, SwapOptions
    from app.errors import ModelError

    options = SwapOptions(restore=RestoreOptions())
    try:
        engine.swap(image, [face], [source], options)  # warm-up, loads the restorer
    except ModelError:
        return "skipped: run python -m benchmarks.bench_restore_models first (it builds the faithful GFPGAN)"
    runs = [engine.swap(image, [face], [source], options).timings for _ in range(repeats)]
    swap_ms = statistics.median(r["swap"] + r["paste"] for r in runs)
    restore_ms = statistics.median(r["restore"] for r in runs)
    return {
        "swap_ms": round(swap_ms, 1),
        "restore_ms": round(restore_ms, 1),
        "restore_share": round(restore_ms / (swap_ms + restore_ms), 3),
    }


def main() -> None:
    result = run()
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
