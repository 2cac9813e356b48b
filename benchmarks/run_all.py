"""Run every benchmark in turn (each writes its JSON under benchmarks/results/), one at a time so they do
not compete for the CPU. About 20-30 minutes on a 2-core machine, most of it the faithful models.

    python -m benchmarks.run_all [NAME ...]      # e.g. python -m benchmarks.run_all paste swap
"""

from __future__ import annotations

import subprocess
import sys
import time

BENCHMARKS = {
    "paste": ["-m", "benchmarks.bench_paste"],
    "models": ["-m", "benchmarks.bench_models"],
    "int8": ["-m", "benchmarks.bench_int8"],
    "restore_models": ["-m", "benchmarks.bench_restore_models"],
    "swap": ["-m", "benchmarks.bench_swap"],
    "live_handoff": ["-m", "benchmarks.bench_live_handoff"],
    "live_loop": ["-m", "benchmarks.bench_live_loop"],
    "landing": ["-m", "benchmarks.bench_landing"],
    "fluid": ["-m", "benchmarks.bench_fluid"],
    "video": ["-m", "benchmarks.bench_video"],
    "api": ["-m", "benchmarks.bench_api"],
    "gui_paint": ["-m", "benchmarks.bench_gui_paint"],
    "realism": ["-m", "benchmarks.bench_realism", "--faithful", "--out", "benchmarks/results/realism.json"],
    "cpu_frame": ["-m", "benchmarks.bench_cpu_frame", "--threads", "1", "--json", "benchmarks/results/cpu_frame.json"],
    "frame_ops": ["-m", "benchmarks.bench_frame_ops", "--device", "cpu", "--json",
                  "benchmarks/results/frame_ops_cpu.json"],
    "torch_cpu": ["-m", "benchmarks.bench_torch_cpu", "--threads", "1", "--detector", "--out",
                  "benchmarks/results/torch_cpu.json"],
    "gpu": ["-m", "benchmarks.bench_gpu"],  # the CPU where there is no GPU: benchmarks/results/gpu_<device>.json
    "ray_video": ["-m", "benchmarks.bench_ray_video", "--frames", "120", "--out", "benchmarks/results/ray_video.json"],
}


def main() -> int:
    names = sys.argv[1:] or list(BENCHMARKS)
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}", file=sys.stderr)
        return 2
    failed = []
    for name in names:
        print(f"=== {name}", flush=True)
        t0 = time.perf_counter()
        code = subprocess.call([sys.executable, *BENCHMARKS[name]])
        print(f"=== {name}: exit {code} in {time.perf_counter() - t0:.0f} s", flush=True)
        if code:
            failed.append(name)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
