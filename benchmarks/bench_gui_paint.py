"""UI-thread cost per displayed live frame: BGR frame -> QImage conversion + paint of the preview widget.

Offscreen (QT_QPA_PLATFORM=offscreen, Qt's raster engine, the same code path as a desktop's software
backing store). Per frame, exactly what the window does on the UI thread when the output thread hands it a
frame. The conversion (PreviewWidget.prepare: cv2 resize to the size the picture is shown at, BGR->BGRA,
wrapped in a QImage without a copy) runs on the live output thread in the app, so the UI thread's cost is
PreviewWidget.set_prepared plus a synchronous repaint() (aspect kept; a plain blit, the image already has the
widget's size). Both are timed; `ui_*` is the UI thread's share, `total_*` the two together (what the UI
thread would pay if it converted too).

Frames: 720p and 1080p, each painted into the preview at the size it has in the default 1440x880 window
(about 1000x600) and at a full-HD window's size (1600x900). Goal (issue 5): under 20% of a 30 fps frame
interval (6.7 ms), so the display never limits the output fps.

    python -m benchmarks.bench_gui_paint      # writes benchmarks/results/gui_paint.json
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

BUDGET_MS = 1000.0 / 30.0 * 0.2
FRAMES = 120
WARMUP = 10


def _frames(width: int, height: int, n: int = 8) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    base = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    return [np.ascontiguousarray(np.roll(base, 13 * i, axis=1)) for i in range(n)]


def measure(widget: Any, width: int, height: int) -> dict[str, float]:
    frames = _frames(width, height)
    convert, paint, total = [], [], []
    for i in range(FRAMES + WARMUP):
        frame = frames[i % len(frames)]
        t0 = time.perf_counter()
        prepared = widget.prepare(frame)  # on the output thread in the app
        t1 = time.perf_counter()
        widget.set_prepared(prepared)  # on the UI thread

        widget.repaint()
        t2 = time.perf_counter()
        if i >= WARMUP:
            convert.append((t1 - t0) * 1000.0)
            paint.append((t2 - t1) * 1000.0)
            total.append((t2 - t0) * 1000.0)
    return {
        "convert_p50_ms": float(np.percentile(convert, 50)),
        "convert_p95_ms": float(np.percentile(convert, 95)),
        "ui_p50_ms": float(np.percentile(paint, 50)),
        "ui_p95_ms": float(np.percentile(paint, 95)),
        "total_p50_ms": float(np.percentile(total, 50)),
        "total_p95_ms": float(np.percentile(total, 95)),
        "ui_share_of_30fps_interval_p50": float(np.percentile(paint, 50) / (1000.0 / 30.0)),
    }


def main() -> int:
    from PySide6.QtWidgets import QApplication

    from app.gui.preview import PreviewWidget

    app = QApplication.instance() or QApplication([])
    rows = []
    for widget_size in ((1000, 600), (1600, 900)):
        widget = PreviewWidget()
        widget.resize(*widget_size)
        widget.show()
        app.processEvents()
        for frame_size in ((1280, 720), (1920, 1080)):
            r = measure(widget, *frame_size)
            row = {"frame": f"{frame_size[0]}x{frame_size[1]}", "widget": f"{widget_size[0]}x{widget_size[1]}", **r,
                   "meets_goal": r["ui_p95_ms"] < BUDGET_MS}
            rows.append(row)
            print(f"frame {row['frame']:>9} in {row['widget']:>8}: UI thread p50 {r['ui_p50_ms']:.2f} ms "
                  f"p95 {r['ui_p95_ms']:.2f} ms (budget {BUDGET_MS:.1f} ms); conversion (output thread) p50 "
                  f"{r['convert_p50_ms']:.2f} ms; both p50 {r['total_p50_ms']:.2f} p95 {r['total_p95_ms']:.2f} ms")
        widget.close()
    result = {
        "benchmark": "GUI preview: UI-thread cost per displayed frame (convert + paint)",
        "platform_plugin": os.environ.get("QT_QPA_PLATFORM", ""),
        "machine": {"platform": platform.platform(), "python": platform.python_version(),
                    "cpus": os.cpu_count()},
        "goal": f"UI-thread p95 < {BUDGET_MS:.2f} ms (20% of a 30 fps frame interval)",
        "frames_per_case": FRAMES,
        "rows": rows,
        "meets_goal": all(r["meets_goal"] for r in rows),
    }
    out = ROOT / "benchmarks" / "results" / "gui_paint.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")
    return 0 if result["meets_goal"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
