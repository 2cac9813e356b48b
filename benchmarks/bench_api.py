"""Requests per second and p95 latency of POST /api/face-swap-video-frame, with stand-in models.

    .venv/bin/python -m benchmarks.bench_api [--seconds S] [--clients N] [--out PATH]

Two servers run side by side on 127.0.0.1 (uvicorn in threads of this process, 2 inference workers each):
one with the source-face cache (a repeated source upload skips decoding and analysis), one that re-analyses
the source on every request (both caches off). Short blocks alternate between them, so both see the same
load on the shared CPU. Each request sends the same source photo (t1.jpg as PNG, 1280x886: decoded,
detected, embedded when not cached) and a 512x512 JPEG frame with one face (astronaut). Stand-in models are
tiny, so the numbers show the HTTP, decode, encode and source-analysis overheads, not real model cost.
Results go to ``benchmarks/results/api.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import cv2  # noqa: E402
import httpx  # noqa: E402
import uvicorn  # noqa: E402

from app.api import ApiSettings, create_app  # noqa: E402
from tests.standins import build_models_dir, photos  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "api.json"
PATH = "/api/face-swap-video-frame"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    def __init__(self, models: Path, cache_size: int) -> None:
        app = create_app(ApiSettings(models_dir=models, workers=2, queue_limit=8, source_cache_size=cache_size))
        self.port = _free_port()
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Server:
        self.thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("server did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *_: object) -> None:
        self.server.should_exit = True
        self.thread.join(15)


def _block(base: str, files: dict[str, tuple[str, bytes]], clients: int, seconds: float) -> dict[str, Any]:
    latencies: list[float] = []
    codes: dict[int, int] = {}
    lock = threading.Lock()
    stop = time.perf_counter() + seconds

    def client() -> None:
        with httpx.Client(timeout=60) as c:
            while time.perf_counter() < stop:
                t = time.perf_counter()
                r = c.post(base + PATH, files=files)
                ms = (time.perf_counter() - t) * 1000.0
                with lock:
                    codes[r.status_code] = codes.get(r.status_code, 0) + 1
                    if r.status_code == 200:
                        latencies.append(ms)

    start = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {"wall_s": time.perf_counter() - start, "latencies": latencies, "codes": codes}


def _summary(blocks: list[dict[str, Any]]) -> dict[str, Any]:
    lat = sorted(x for b in blocks for x in b["latencies"])
    wall = sum(b["wall_s"] for b in blocks)
    codes: dict[str, int] = {}
    for b in blocks:
        for code, n in b["codes"].items():
            codes[str(code)] = codes.get(str(code), 0) + n
    p95 = lat[min(len(lat) - 1, int(round(0.95 * (len(lat) - 1))))] if lat else float("nan")
    return {
        "requests_ok": len(lat),
        "status_counts": codes,
        "requests_per_s": round(len(lat) / wall, 2),
        "p50_ms": round(statistics.median(lat), 1) if lat else None,
        "p95_ms": round(p95, 1),
        "wall_s": round(wall, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="measured seconds per mode (default 20)")
    parser.add_argument("--blocks", type=int, default=4, help="alternating blocks per mode (default 4)")
    parser.add_argument("--clients", type=int, default=2, help="concurrent client threads (default 2)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    models = build_models_dir(Path(tempfile.mkdtemp(prefix="dlc-bench-api-")))
    ok, src = cv2.imencode(".png", photos.t1().image)
    ok2, frm = cv2.imencode(".jpg", photos.astronaut().image, [cv2.IMWRITE_JPEG_QUALITY, 90])
    assert ok and ok2
    files = {"source_face": ("source.png", src.tobytes()), "frame": ("frame.jpg", frm.tobytes())}
    loadavg_before = os.getloadavg()
    per_block = args.seconds / args.blocks
    modes = {"source_cache": 32, "reanalyse_each_time": 0}
    blocks: dict[str, list[dict[str, Any]]] = {m: [] for m in modes}
    with Server(models, modes["source_cache"]) as cached, Server(models, modes["reanalyse_each_time"]) as fresh:
        servers = {"source_cache": cached, "reanalyse_each_time": fresh}
        for server in servers.values():  # warm-up: first requests, allocator, caches
            _block(server.base, files, args.clients, 1.0)
        for _ in range(args.blocks):
            for mode, server in servers.items():
                blocks[mode].append(_block(server.base, files, args.clients, per_block))
        cache_stats = {m: httpx.get(s.base + "/health").json()["source_cache"] for m, s in servers.items()}

    result = {
        "benchmark": "POST /api/face-swap-video-frame, stand-in models, loopback HTTP",
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
                    "loadavg_before": [round(x, 2) for x in loadavg_before]},
        "setup": {"clients": args.clients, "server_workers": 2, "queue_limit": 8,
                  "seconds_per_mode": args.seconds, "blocks_per_mode": args.blocks,
                  "source": f"t1 PNG {photos.t1().image.shape[1]}x{photos.t1().image.shape[0]}, {len(src)} bytes",
                  "frame": f"astronaut JPEG 512x512, {len(frm)} bytes, one face"},
        "modes": {m: {**_summary(b), "cache": cache_stats[m]} for m, b in blocks.items()},
    }
    c, f = result["modes"]["source_cache"], result["modes"]["reanalyse_each_time"]
    if f["requests_per_s"]:
        result["cache_speedup_rps"] = round(c["requests_per_s"] / f["requests_per_s"], 2)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result["modes"], indent=2))
    print(f"cache speed-up (requests/s): {result.get('cache_speedup_rps')}; written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
