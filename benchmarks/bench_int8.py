"""int8 against fp32 inswapper_128 per face on this CPU, and the int8 build's quality numbers.

    python -m benchmarks.bench_int8 [--runs N] [--quick] [--out PATH]

The int8 file is the app's own build (app/core/int8.py: static QDQ, calibrated on aligned faces of the shipped
photos, checked against fp32 on held-back faces) of the architecture-faithful inswapper (random weights, real
layer shapes; benchmarks/faithful_models.py), made once and cached under benchmarks/.cache/int8. Timing: the
held-back faces go through fp32 and int8 in turn (alternating, so both see the same load on a shared CPU),
one warm-up each, then the median per face. The quality numbers are the build's report (PSNR and worst-pixel
error of int8 against fp32 on the 8-bit output); random weights amplify rounding through the six residual
blocks more than trained ones are expected to, so they bound nothing about the real file: `deep-live-cam
models optimize` measures that on the user's machine before the int8 swapper may be used.

--quick: two timed runs on two faces and nothing written (unless --out is given); the first run of either
mode still builds the faithful model and its int8 copy if they are not cached (about a minute or two).
Results otherwise go to benchmarks/results/int8.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import faithful_models as fm  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "int8.json"
EXPECTED_SPEEDUP_AVX2 = 1.9  # issue 14's expectation for an AVX2 CPU without VNNI


def cpu_flags() -> dict[str, bool]:
    """The instruction sets int8 convolutions gain from (Linux /proc/cpuinfo; all False elsewhere)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        text = ""
    flags = set()
    for line in text.splitlines():
        if line.startswith("flags"):
            flags = set(line.split(":", 1)[1].split())
            break
    return {name: name in flags for name in ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "amx_int8")}


def held_out_feeds(folder: Path, n: int) -> list[dict[str, Any]]:
    """The app's held-back faces (aligned crops with another face's latent) of the int8 build's folder."""
    from app.core.int8_calibration import collect_faces, split
    from app.core.int8_quantize import load_source
    from app.core.sessions import ModelSet

    emap = load_source(folder / fm.INSWAPPER_FILE).emap
    faces = split(collect_faces(ModelSet(folder, ["CPUExecutionProvider"]), emap, []))
    return [dict(f) for f in faces.held_out[:n]]


def _ms(session: Any, feed: dict[str, Any], cpu: list[float]) -> float:
    c, t = time.process_time(), time.perf_counter()
    session.run(["output"], feed)
    cpu.append((time.process_time() - c) * 1e3)
    return (time.perf_counter() - t) * 1e3


def run(runs: int, faces: int) -> dict[str, Any]:
    from app.core.int8 import int8_status
    from app.core.int8_quantize import session

    fp32_path = fm.build_inswapper()
    started = time.perf_counter()
    int8_path = fm.build_inswapper_int8()
    built_s = time.perf_counter() - started
    status = int8_status(fm.int8_models_dir())
    report = status.report
    if report is None:
        raise RuntimeError(f"the int8 build left no report: {status.message}")
    feeds = held_out_feeds(fm.int8_models_dir(), faces)

    import onnxruntime as ort

    s32, s8 = session(fp32_path), session(int8_path)
    ms32: list[float] = []
    ms8: list[float] = []
    cpu32: list[float] = []
    cpu8: list[float] = []
    load_before = [round(x, 2) for x in os.getloadavg()]
    for feed in feeds:
        s32.run(["output"], feed)  # warm-up per face: first-run allocations stay out of the numbers
        s8.run(["output"], feed)
        for _ in range(runs):
            ms32.append(_ms(s32, feed, cpu32))
            ms8.append(_ms(s8, feed, cpu8))
    fp32_ms, int8_ms = statistics.median(ms32), statistics.median(ms8)
    info = fm.model_info("inswapper_128")
    return {
        "what": "inswapper_128 per face, onnxruntime CPUExecutionProvider, faithful random-weight model: fp32 "
                "against the app's static int8 QDQ build (app/core/int8.py)",
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                    "processor": platform.processor() or platform.machine(), "onnxruntime": ort.__version__,
                    "cpu_flags": cpu_flags(), "loadavg_before": load_before,
                    "loadavg_after": [round(x, 2) for x in os.getloadavg()]},
        "notes": [
            "fp32 and int8 alternate face by face, so the ratio is taken under the same load; absolute "
            "milliseconds on a shared CPU are noisy, the ratio much less so.",
            f"Expected about {EXPECTED_SPEEDUP_AVX2}x on AVX2 without VNNI, more with VNNI/AMX.",
            "Quality: the build's own report (held-back faces, 8-bit output). Random weights say nothing about "
            "the real file's quality; the app measures that on the user's machine.",
        ],
        "macs_per_face": info["macs"],
        "faces": len(feeds),
        "runs_per_face": runs,
        "fp32": {"file": str(fp32_path), "bytes": fp32_path.stat().st_size, "median_ms": round(fp32_ms, 1),
                 "median_cpu_ms": round(statistics.median(cpu32), 1), "runs_ms": [round(x, 1) for x in ms32],
                 "gmac_per_s": round(info["macs"] / 1e9 / (fp32_ms / 1e3), 1)},
        "int8": {"file": str(int8_path), "bytes": int8_path.stat().st_size, "median_ms": round(int8_ms, 1),
                 "median_cpu_ms": round(statistics.median(cpu8), 1), "runs_ms": [round(x, 1) for x in ms8],
                 "build_s": report.seconds, "built_this_run": built_s > 5.0},
        "speedup": round(fp32_ms / int8_ms, 2),
        "speedup_cpu_time": round(statistics.median(cpu32) / statistics.median(cpu8), 2),
        "quality": {**report.to_json()["quality"], "bound_db": report.bound_db, "enabled": report.enabled,
                    "held_out_faces": list(report.held_out_faces),
                    "calibration_faces": len(report.calibration_faces)},
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3, help="timed runs per face and precision (after a warm-up)")
    ap.add_argument("--faces", type=int, default=6, help="held-back faces to time on (at most 6)")
    ap.add_argument("--quick", action="store_true", help="2 runs on 2 faces; writes nothing unless --out")
    ap.add_argument("--out", type=Path, default=None, help=f"result JSON (default {RESULTS}; none with --quick)")
    args = ap.parse_args(argv)
    runs, faces = (2, 2) if args.quick else (max(1, args.runs), max(1, args.faces))
    result = run(runs, faces)
    out = args.out if args.out is not None else (None if args.quick else RESULTS)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2) + "\n")
    q = result["quality"]
    print(f"fp32 {result['fp32']['median_ms']:.0f} ms/face ({result['fp32']['gmac_per_s']} GMAC/s), "
          f"int8 {result['int8']['median_ms']:.0f} ms/face: x{result['speedup']} "
          f"(cpu time x{result['speedup_cpu_time']}) on {result['faces']} faces x {result['runs_per_face']} runs")
    print(f"quality (held-back faces): PSNR {q['psnr_db']} dB, worst face {q['worst_face_psnr_db']} dB, "
          f"worst pixel {q['worst_pixel_error']}/255, mean {q['mean_abs_error']}/255; bound {q['bound_db']} dB: "
          f"{'enabled' if q['enabled'] else 'NOT enabled'}")
    print(f"cpu flags {result['machine']['cpu_flags']}; load {result['machine']['loadavg_before']} -> "
          f"{result['machine']['loadavg_after']}" + (f"; wrote {out}" if out else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
