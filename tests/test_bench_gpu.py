"""benchmarks/bench_gpu.py runs where only torch, numpy, OpenCV, onnx, onnxruntime and scikit-image are
installed (a bare GPU machine): nothing it imports may pull in PySide6, PyAV, FastAPI or pyvirtualcam. Run in
a subprocess with those blocked, on the stand-in models, both backends, one case each."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BLOCKED = ("PySide6", "av", "fastapi", "starlette", "uvicorn", "pyvirtualcam", "qasync", "ray")

SCRIPT = f"""
import sys, importlib.abc
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {BLOCKED!r}:
            raise ImportError(f"{{name}} is not on the GPU machine")
sys.meta_path.insert(0, Block())
sys.argv = sys.argv[1:]
from benchmarks.bench_gpu import main
raise SystemExit(main())
"""


def test_bench_gpu_runs_without_the_gui_video_and_server_packages(standin_models_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "gpu.json"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", SCRIPT, "bench_gpu", "--device", "cpu", "--quick", "--reps", "1",
                           "--models", str(standin_models_dir), "--out", str(out)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    doc = json.loads(out.read_text())
    rows = {(r["backend"], r["restore"]): r for r in doc["rows"]}
    assert set(rows) == {("torch", False), ("torch", True), ("onnxruntime", False), ("onnxruntime", True)}
    for row in doc["rows"]:
        assert row["end_to_end_ms"] > 0 and row["fps"] > 0 and row["stage_ms"]["swap"] > 0
    assert rows[("torch", False)]["runs_on"]["swapper"][0].startswith("torch cpu")
    assert rows[("onnxruntime", True)]["stage_ms"]["restore"] > 0
