"""Per-face GFPGAN v1.4 restoration time at full size: torch vs onnxruntime on this machine, same run.

The network is the real architecture (app.models.gfpgan_arch, 86.4M parameters) with seeded random weights,
saved once as benchmarks/.cache/GFPGANv1.4.pth and converted through the app's own path
(app.models.gfpgan_convert.ensure_restorer_onnx), so the ONNX file timed is the one the app would build.
Both runtimes get the same weights and the same [1, 3, 512, 512] input; the outputs are compared too.

    .venv/bin/python benchmarks/bench_restore_models.py [--reps 3]

Results: benchmarks/results/restore_models.json. Timings are medians of a few repetitions after one
warm-up; on a shared machine they are noisy (the load average is recorded next to them).
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

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CACHE = ROOT / "benchmarks" / ".cache"
RESULTS = ROOT / "benchmarks" / "results" / "restore_models.json"


def count_macs(torch: Any, net: Any, x: Any) -> int:
    """Multiply-accumulates of one forward: convolutions (plain and modulated) and linear layers."""
    from app.models.gfpgan_arch import ModulatedConv2d

    total = 0

    def hook(mod: Any, _inp: Any, out: Any) -> None:
        nonlocal total
        if isinstance(mod, torch.nn.Conv2d):
            k = mod.kernel_size[0] * mod.kernel_size[1]
            total += out.numel() * (mod.in_channels // mod.groups) * k
        elif isinstance(mod, ModulatedConv2d):
            total += out.numel() * mod.in_channels * mod.kernel_size**2
        elif isinstance(mod, torch.nn.Linear):
            total += out.numel() * mod.in_features

    handles = [
        m.register_forward_hook(hook)
        for m in net.modules()
        if isinstance(m, torch.nn.Conv2d | torch.nn.Linear | ModulatedConv2d)
    ]
    with torch.no_grad():
        net(x)
    for h in handles:
        h.remove()
    return total


def timed(fn: Any, reps: int) -> list[float]:
    fn()  # warm-up: allocations, oneDNN primitive creation, onnxruntime arena growth
    samples = []
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000.0)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()

    import onnxruntime as ort
    import torch

    from app.models.gfpgan_arch import GFPGANv1Clean
    from app.models.gfpgan_convert import ensure_restorer_onnx
    from benchmarks.faithful_models import build_gfpgan_pth

    pth = build_gfpgan_pth(CACHE)
    net = GFPGANv1Clean().eval()
    net.load_state_dict(torch.load(pth, map_location="cpu", weights_only=True)["params_ema"])

    had_conversion = any(CACHE.glob("GFPGANv1.4.*.onnx"))
    started = time.perf_counter()
    onnx_path = ensure_restorer_onnx(CACHE)
    ensure_s = time.perf_counter() - started

    x_np = np.random.default_rng(0).uniform(-1.0, 1.0, (1, 3, 512, 512)).astype(np.float32)
    x = torch.from_numpy(x_np)
    params = sum(p.numel() for p in net.parameters())
    macs = count_macs(torch, net, x)

    def run_torch() -> np.ndarray:
        with torch.no_grad():
            return torch.clamp(net(x), -1.0, 1.0).numpy()

    started = time.perf_counter()
    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    session_s = time.perf_counter() - started

    def run_ort() -> np.ndarray:
        return sess.run(None, {"input": x_np})[0]  # type: ignore[no-any-return]

    load_before = os.getloadavg()
    torch_ms = timed(run_torch, args.reps)
    ort_ms = timed(run_ort, args.reps)
    load_after = os.getloadavg()
    max_abs_diff = float(np.abs(run_torch() - run_ort()).max())

    result = {
        "what": "GFPGAN v1.4 (GFPGANv1Clean 512, random weights, real architecture): one face, 512x512",
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor(),
            "cpu_count": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "loadavg_1m_before": round(load_before[0], 2),
            "loadavg_1m_after": round(load_after[0], 2),
        },
        "versions": {"torch": torch.__version__, "onnxruntime": ort.__version__},
        "model": {
            "params": params,
            "gmac_per_face": round(macs / 1e9, 1),
            "onnx_file": onnx_path.name,
            "onnx_bytes": onnx_path.stat().st_size,
        },
        "ensure_restorer_onnx_s": round(ensure_s, 1),
        "ensure_restorer_onnx_converted": not had_conversion,
        "ort_session_create_s": round(session_s, 2),
        "reps": args.reps,
        "torch_ms": [round(v, 1) for v in torch_ms],
        "onnxruntime_cpu_ms": [round(v, 1) for v in ort_ms],
        "torch_ms_median": round(statistics.median(torch_ms), 1),
        "onnxruntime_cpu_ms_median": round(statistics.median(ort_ms), 1),
        "ratio_torch_over_onnxruntime": round(statistics.median(torch_ms) / statistics.median(ort_ms), 2),
        "max_abs_diff_torch_vs_onnxruntime": max_abs_diff,
        "note": "medians after one warm-up; the CPU is shared with other jobs, so numbers are noisy",
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
