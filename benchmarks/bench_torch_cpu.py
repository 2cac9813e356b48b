"""Torch backend on the CPU vs onnxruntime, per face, on the faithful inswapper_128 (random weights, real shapes).

    .venv/bin/python -m benchmarks.bench_torch_cpu [--rounds N] [--threads N] [--quick] [--detector] [--out PATH]

Times one face through onnxruntime (CPUExecutionProvider), the torch backend's hand-fused module and its
generic onnx2torch conversion, all fp32, alternating round by round so that the ratios are taken under the
same load (absolute milliseconds on a shared CPU are noisy; ratios from one run are not). The issue's goal:
torch on the CPU within 1.5x of onnxruntime. `--quick` uses a width-32 inswapper-like graph (seconds) instead
of the faithful one (minutes on a 2-core CPU); `--detector` adds the faithful det_10g at 640x640 (insightface's
SCRFD.detect vs TorchSCRFD.detect on t1.jpg). Prints JSON; `--out` also writes it to a file.

`--threads N` gives both runtimes N intra-op threads. On a shared machine use 1: torch's OpenMP regions wait
for their slowest thread, so when another process takes a core torch's times swing 1x-5x from run to run while
onnxruntime's pool degrades gently; single-threaded, both measure what their kernels cost.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def _model(quick: bool, tmp: Path) -> Path:
    if quick:
        from tests.standins.inswapper_real import build_inswapper_like

        return build_inswapper_like(tmp / "inswapper_128.onnx", width=32)
    from benchmarks import faithful_models

    return faithful_models.build_inswapper()


def _detector_runs(options: Any) -> dict[str, Callable[[], Any]]:
    import onnxruntime as ort
    import torch
    from insightface.model_zoo.scrfd import SCRFD

    from app.core.torch_backend.scrfd import TorchSCRFD
    from benchmarks import faithful_models
    from tests.standins import photos

    path = faithful_models.build_det_10g()
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    reference = SCRFD(model_file=str(path), session=session)
    detector = TorchSCRFD.load(path, "cpu", precision="fp32")
    image = photos.t1().image
    frame = torch.tensor(image)
    return {
        "detector_onnxruntime": lambda: reference.detect(image, input_size=(640, 640)),
        "detector_torch": lambda: detector.detect(image, input_size=(640, 640)),
        "detector_torch_device_frame": lambda: detector.detect_tensor(frame, input_size=(640, 640)),
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="a width-32 graph instead of the faithful one")
    parser.add_argument("--detector", action="store_true", help="also time the faithful det_10g at 640x640")
    parser.add_argument("--threads", type=int, default=0, help="intra-op threads for both runtimes (0: default)")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)

    import numpy as np
    import onnxruntime as ort
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)

    from app.core import probe
    from app.core.torch_backend.inswapper import TorchInswapper

    with tempfile.TemporaryDirectory() as tmpdir:
        path = _model(args.quick, Path(tmpdir))
        options = ort.SessionOptions()
        options.log_severity_level = 3
        # onnxruntime's pool spins after each run; in one process with torch's OpenMP pool on 2 cores the
        # spinning threads starve whichever runtime runs next, so spinning is off for a fair alternation
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.intra_op_num_threads = args.threads
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        fused = TorchInswapper.load(path, "cpu", precision="fp32", fused=True)
        generic = TorchInswapper.load(path, "cpu", precision="fp32", fused=False)
    crop = probe.rgb_blob(probe.face_crop(128))
    latent = probe.latent(fused.emap, seed=1)
    crop_t, latent_t = torch.from_numpy(crop), torch.from_numpy(latent)
    runs: dict[str, Callable[[], Any]] = {
        "onnxruntime": lambda: session.run(None, {"target": crop, "source": latent})[0],
        "torch_fused": lambda: fused.swap(crop_t, latent_t).numpy(),
        "torch_generic": lambda: generic.swap(crop_t, latent_t).numpy(),
    }
    if args.detector:
        runs.update(_detector_runs(options))
    reference = runs["onnxruntime"]()
    agreement = {k: round(float(np.abs(f() - reference).max()) * 255, 4) for k, f in runs.items()
                 if not k.startswith("detector")}
    times: dict[str, list[float]] = {k: [] for k in runs}
    for _ in range(args.rounds):
        for key, run in runs.items():
            started = time.perf_counter()
            run()
            times[key].append((time.perf_counter() - started) * 1e3)
    median = {k: statistics.median(v) for k, v in times.items()}
    if args.detector:
        median["detector_ratio"] = median["detector_torch"] / median["detector_onnxruntime"]
    result = {
        "model": "inswapper-like width 32" if args.quick else "faithful inswapper_128",
        "torch_threads": torch.get_num_threads(),
        "median_ms_per_face": {k: round(v, 1) for k, v in median.items()},
        "runs_ms": {k: [round(x, 1) for x in v] for k, v in times.items()},
        "ratio_to_onnxruntime": {k: round(v / median["onnxruntime"], 3) for k, v in median.items()
                                 if not k.startswith("detector")},
        "max_difference_levels": agreement,
        "load_seconds": {"torch_fused": round(fused.info.load_seconds, 1),
                         "torch_generic": round(generic.info.load_seconds, 1)},
    }
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    return result


if __name__ == "__main__":
    main()
