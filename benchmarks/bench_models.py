"""Per-model onnxruntime CPU inference time of the architecture-faithful stand-ins.

    .venv/bin/python -m benchmarks.bench_models [--runs N] [--no-int8] [--out PATH]

Times one face through inswapper_128 (fp32 and, unless --no-int8, its static int8 QDQ build), det_10g at
640x640 and w600k_r50 on one 112x112 face: one warm-up, then the median of a few runs.  The fp32 and int8
inswapper runs alternate, so the speed-up ratio is measured under the same load (the CPU is shared; absolute
milliseconds are noisy, ratios from one run are not).  A numpy matmul probe gives the CPU's reachable
multiply-accumulate rate in the same run, to judge how close each model gets.  Results go to
``benchmarks/results/models.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

if __package__ in (None, ""):  # run as a script
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import faithful_models as fm  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "models.json"
DESIGN_REFERENCE_MS = {"inswapper_128_fp32": 720.0, "inswapper_128_int8": 250.0}


def _session(path: Path) -> Any:
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.log_severity_level = 3  # the inswapper's unused emap draws a warning on every load
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


def _time(fn: Callable[[], object], cpu_into: list[float] | None = None) -> float:
    c = time.process_time()
    t = time.perf_counter()
    fn()
    wall = (time.perf_counter() - t) * 1e3
    if cpu_into is not None:
        cpu_into.append((time.process_time() - c) * 1e3)
    return wall


def _summary(ms: list[float], cpu: list[float]) -> dict[str, Any]:
    out: dict[str, Any] = {"median_ms": round(statistics.median(ms), 1), "min_ms": round(min(ms), 1),
                           "runs_ms": [round(x, 1) for x in ms]}
    if cpu:
        # CPU time of all of this process's threads (ORT's pool spins a little, so this slightly
        # over-counts); under a shared, overloaded CPU it is steadier than wall time.
        out["median_cpu_ms"] = round(statistics.median(cpu), 1)
    return out


def matmul_probe(n: int = 1024, reps: int = 5) -> float:
    """Best GMAC/s of an fp32 n x n matmul with numpy's BLAS (all cores)."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    a @ b
    best = min(_time(lambda: a @ b) for _ in range(reps))
    return n ** 3 / (best / 1e3) / 1e9


def _inswapper_feed() -> dict[str, np.ndarray]:
    face = fm.sample_face()
    latent = np.random.default_rng(3).standard_normal((1, 512)).astype(np.float32)
    return {"target": face, "source": latent / np.linalg.norm(latent)}


def _rel(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path(__file__).resolve().parent.parent))
    except ValueError:
        return str(path)


def _entry(key: str, ms: list[float], cpu: list[float]) -> dict[str, Any]:
    info = fm.model_info(key)
    out = {"file": _rel(fm.CACHE_DIR / fm.MODELS[key].relpath), "params": info["params"],
           "macs": info["macs"], "macs_at": info["macs_at"], "target_params": info["target_params"],
           "target_macs": info["target_macs"], "target_macs_at": info["target_macs_at"],
           "macs_at_target_shape": info["macs_at_target_shape"] or info["macs"],
           "per": info["note"], **_summary(ms, cpu)}
    out["gmac_per_s"] = round(info["macs"] / 1e9 / (statistics.median(ms) / 1e3), 1)
    return out


def _time_small(path: Path, x: np.ndarray, key: str, runs: int) -> dict[str, Any]:
    sess = _session(path)
    feed = {"input.1": x}
    sess.run(None, feed)
    cpu: list[float] = []
    ms = [_time(lambda: sess.run(None, feed), cpu) for _ in range(runs)]
    return _entry(key, ms, cpu)


def run(runs: int = 3, small_runs: int = 7, int8: bool = True) -> dict[str, Any]:
    paths = fm.build_all()
    result: dict[str, Any] = {
        "what": "onnxruntime CPUExecutionProvider, faithful random-weight stand-ins, batch 1",
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                    "processor": platform.processor() or platform.machine(),
                    "loadavg_before": [round(x, 2) for x in os.getloadavg()]},
        "design_reference_ms": DESIGN_REFERENCE_MS,
        "notes": [
            "The CPU is shared with other jobs: compare models and fp32/int8 within one run; median_cpu_ms "
            "(CPU time of all threads) is steadier than wall time when the load average exceeds the cores.",
            "gmac_per_s = macs / median wall time; an AVX2 core without AVX-512/VNNI peaks at 16 fp32 "
            "MAC per cycle, so 175 GMAC per face cannot take 720 ms on two such cores.",
        ],
        "models": {},
    }
    import onnxruntime as ort

    result["machine"]["onnxruntime"] = ort.__version__
    result["machine"]["matmul_probe_gmac_per_s"] = round(matmul_probe(), 1)

    # det_10g at 640x640 and w600k_r50 on one face
    rng = np.random.default_rng(1)
    for key, shape in (("det_10g", (1, 3, 640, 640)), ("w600k_r50", (1, 3, 112, 112))):
        result["models"][key] = _time_small(paths[key], rng.uniform(-1, 1, shape).astype(np.float32),
                                            key, small_runs)

    # inswapper: fp32 and int8 alternate so both see the same load
    feed = _inswapper_feed()
    s32 = _session(paths["inswapper_128"])
    s8 = None
    if int8:
        t = time.perf_counter()
        int8_path = fm.build_inswapper_int8()
        quant_s = time.perf_counter() - t
        s8 = _session(int8_path)
    ms32: list[float] = []
    ms8: list[float] = []
    cpu32: list[float] = []
    cpu8: list[float] = []
    o32 = s32.run(None, feed)[0]
    o8 = s8.run(None, feed)[0] if s8 is not None else None
    for _ in range(runs):
        ms32.append(_time(lambda: s32.run(None, feed), cpu32))
        if s8 is not None:
            ms8.append(_time(lambda: s8.run(None, feed), cpu8))
    result["models"]["inswapper_128"] = _entry("inswapper_128", ms32, cpu32)
    if s8 is not None and o8 is not None:
        entry = _entry("inswapper_128", ms8, cpu8)
        entry.update({
            "file": _rel(int8_path),
            "file_bytes": int8_path.stat().st_size,
            "quantisation": "the app's build (app/core/int8.py): onnxruntime quantize_static QDQ, uint8 "
                            "activations, per-channel int8 weights on the convolutions, MinMax on aligned faces of "
                            "the shipped photos; last conv, Gemms and normalisation left float; emap put back last",
            "build_s_this_run": round(quant_s, 1),
            "speedup_vs_fp32": round(statistics.median(ms32) / statistics.median(ms8), 2),
            "speedup_vs_fp32_cpu_time": round(statistics.median(cpu32) / statistics.median(cpu8), 2),
            "mean_abs_diff_vs_fp32": round(float(np.abs(o32 - o8).mean()), 4),
        })
        result["models"]["inswapper_128_int8"] = entry
    result["machine"]["loadavg_after"] = [round(x, 2) for x in os.getloadavg()]
    return result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3, help="timed inswapper runs (after one warm-up)")
    ap.add_argument("--small-runs", type=int, default=7, help="timed det/rec runs")
    ap.add_argument("--no-int8", action="store_true", help="skip the int8 inswapper")
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    result = run(args.runs, args.small_runs, not args.no_int8)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    for key, m in result["models"].items():
        extra = f"  x{m['speedup_vs_fp32']} vs fp32" if "speedup_vs_fp32" in m else ""
        print(f"{key:20s} {m['median_ms']:9.1f} ms (min {m['min_ms']:.1f}, cpu {m['median_cpu_ms']:.1f})"
              f"  {m['params'] / 1e6:7.2f}M params"
              f"  {m['macs'] / 1e9:7.2f} GMAC  {m['gmac_per_s']:6.1f} GMAC/s{extra}")
    print(f"matmul probe {result['machine']['matmul_probe_gmac_per_s']} GMAC/s; "
          f"load {result['machine']['loadavg_before']} -> {result['machine']['loadavg_after']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
