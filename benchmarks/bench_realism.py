"""What the mouth mask, the shaped masks and face mapping add per frame, per face, on this CPU.

One face at 720p (the astronaut's face scaled to a 60 px eye distance, as in bench_paste), the inverting
stand-in swap (its output is only the crop the paste-back blends). Per face and frame:

- paste, default box: today's path (FacePaster.paste with the paster's own mask), the baseline;
- landmarks: the 106-point model on the face (app/core/landmarks.py). With the tests' stand-in 2d106det
  (a tiny graph) this is the crop and the plumbing; the real file is a MobileNet-0.5 of ~0.5 GMAC, so with
  --faithful it is also timed on benchmarks/faithful_models.py's architecture-faithful 2d106det (random
  weights, the real layer shapes) - that is the number to quote for the real model;
- mouth mask: the crop-space alpha (MaskMaker.alpha with the mouth) plus the paste with it, minus the
  baseline paste; likewise the ellipse (made once, cached) and the hull (per face and frame);
- face mapping, per frame: TrackRecognizer.assign for faces whose tracks are known (dict look-ups, no
  embedding), and per NEW track: one embedding (stand-in recognizer; with --faithful the faithful
  w600k_r50, ~6.3 GMAC, which is what the real file costs) plus the match against 10 mapped people.

    python -m benchmarks.bench_realism --quick          # a quick look (fewer repeats)
    python -m benchmarks.bench_realism --faithful       # also the faithful 2d106det and w600k_r50

Nothing is written unless --out PATH is given. Timings on a shared 2-core machine are noisy: compare the
rows of one run with each other.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from benchmarks.timing import median_ms

ROOT = Path(__file__).resolve().parents[1]


def _load(path: Path) -> Any:
    from insightface.model_zoo import get_model

    with contextlib.redirect_stdout(io.StringIO()):
        return get_model(str(path), providers=["CPUExecutionProvider"])


def run(repeats: int, faithful: bool) -> dict[str, Any]:
    sys.path.insert(0, str(ROOT))
    from app.core.engine import Engine
    from app.core.face_map import FaceMap, TrackRecognizer
    from app.core.landmarks import landmarks_106
    from app.core.masks import FaceMaskSpec, MaskMaker, MouthMaskSpec
    from app.core.paste import FacePaster
    from app.core.sessions import ModelSet
    from app.core.swap import align_crop
    from app.core.types import Face
    from benchmarks.bench_paste import scene
    from tests.standins import build_models_dir

    cv2.setNumThreads(1)
    results: dict[str, Any] = {"repeats": repeats, "opencv_threads": 1, "frame": "1280x720",
                               "eye_distance_px": 60.0, "per_face_ms": {}}
    rows: dict[str, float] = results["per_face_ms"]
    with tempfile.TemporaryDirectory() as tmp:
        models = build_models_dir(Path(tmp) / "models")
        engine = Engine(ModelSet(models, ["CPUExecutionProvider"]))
        landmarker = _load(models / "buffalo_l" / "2d106det.onnx")
        frame, points = scene(1280, 720, 60.0)
        x1, y1 = points.min(axis=0)
        x2, y2 = points.max(axis=0)
        w, h = x2 - x1, y2 - y1
        face = Face(box=(float(x1 - 0.45 * w), float(y1 - 0.75 * h), float(x2 + 0.45 * w), float(y2 + 0.45 * h)),
                    points=points, score=0.9)
        crop, matrix = align_crop(frame, face.points, 128)
        swapped = np.ascontiguousarray(255 - crop)
        paster, maker = FacePaster(), MaskMaker()
        out = frame.copy()

        def paste(mask: np.ndarray | None = None) -> None:
            np.copyto(out, frame)
            paster.paste(out, swapped, matrix, blend=0.8, mask=mask)

        copy_ms = median_ms(lambda: np.copyto(out, frame), repeats)
        base = median_ms(paste, repeats) - copy_ms
        rows["paste, default box (baseline)"] = base
        marks = landmarks_106(landmarker, frame, face)
        rows["landmarks, stand-in 2d106det (crop + plumbing)"] = median_ms(
            lambda: landmarks_106(landmarker, frame, face), repeats)
        if faithful:
            from benchmarks import faithful_models

            real_like = _load(faithful_models.build_2d106det())
            rows["landmarks, faithful 2d106det (~0.44 GMAC)"] = median_ms(
                lambda: landmarks_106(real_like, frame, face), repeats)

        box, mouth = FaceMaskSpec(), MouthMaskSpec()
        alpha_mouth = maker.alpha(128, matrix, box, mouth, marks)
        rows["mouth mask: alpha"] = median_ms(lambda: maker.alpha(128, matrix, box, mouth, marks), repeats)
        over = copy_ms + base
        rows["mouth mask: paste with it, over baseline"] = median_ms(lambda: paste(alpha_mouth), repeats) - over
        ellipse = FaceMaskSpec("ellipse")
        alpha_ellipse = maker.alpha(128, matrix, ellipse, None, marks)
        rows["ellipse: alpha (cached)"] = median_ms(lambda: maker.alpha(128, matrix, ellipse, None, marks), repeats)
        rows["ellipse: paste with it, over baseline"] = median_ms(lambda: paste(alpha_ellipse), repeats) - over
        hull = FaceMaskSpec("hull")
        rows["hull: alpha"] = median_ms(lambda: maker.alpha(128, matrix, hull, None, marks), repeats)
        rows["hull + mouth: alpha"] = median_ms(lambda: maker.alpha(128, matrix, hull, mouth, marks), repeats)

        # Face mapping. A known track costs a look-up; a new one an embedding and a match.
        def embed(f: Any, fc: Face) -> Any:
            return engine.embed(f, fc).embedding

        rng = np.random.default_rng(0)
        face_map = FaceMap[str](default="D")
        for i in range(10):
            face_map = face_map.with_person(f"p{i}", rng.standard_normal(512).astype(np.float32), f"S{i}")
        recognizer = TrackRecognizer[str](embed)
        tracked = [(1, face)]
        recognizer.assign(face_map, frame, tracked)
        rows["face mapping: known track, per frame"] = median_ms(lambda: recognizer.assign(face_map, frame, tracked),
                                                           repeats)
        counter = iter(range(2, 10**9))

        def new_track() -> None:
            recognizer.assign(face_map, frame, [(next(counter), face)])

        rows["face mapping: new track (stand-in embedding + match), once"] = median_ms(new_track, repeats)
        if faithful:
            from benchmarks import faithful_models

            rec = _load(faithful_models.build_w600k_r50())
            from app.core.analysis import embed_face

            emb_ms = median_ms(lambda: embed_face(rec, frame, face), max(3, repeats // 4))
            rows["face mapping: new track, faithful w600k_r50 embedding, once"] = emb_ms
        results["embeddings_for_new_tracks"] = recognizer.embeddings
    results["per_face_ms"] = {k: round(v, 3) for k, v in rows.items()}
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    parser.add_argument("--faithful", action="store_true",
                        help="also time the architecture-faithful 2d106det and w600k_r50 (built once, cached)")
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    args = parser.parse_args(argv)
    result = run(repeats=10 if args.quick else 60, faithful=args.faithful)
    width = max(len(k) for k in result["per_face_ms"])
    for name, ms in result["per_face_ms"].items():
        print(f"{name:<{width}}  {ms:8.3f} ms")
    if args.out is not None:
        args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
