"""The app runs without insightface: every module under app/ imports, and a swap with the landmark masks and
restoration runs on the stand-ins, in a process where insightface cannot be imported (insightface is in the
`test` extra only: it requires onnxruntime's CPU build, which must not sit beside onnxruntime-gpu)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np

from tests.core.test_ort_runtime import blocked

ROOT = Path(__file__).resolve().parents[1]

SCRIPT = """
import importlib, pkgutil
import app

imported = []
for info in pkgutil.walk_packages(app.__path__, "app."):
    if info.name.endswith(".__main__"):
        continue  # `python -m app`: importing it runs the app
    importlib.import_module(info.name)
    imported.append(info.name)
for name in ("app.cli", "app.core.engine", "app.core.sessions", "app.gui.main_window", "app.api.app"):
    assert name in imported, name

from app.core import probe
assert probe.insightface_images() is None
face = probe.face_crop(128)
scene = probe.scene()
assert scene.shape == (512, 512, 3), scene.shape  # scikit-image's astronaut stands in for t1.jpg

from app.cli import main
code = main(["swap", {source!r}, {target!r}, "-o", {output!r}, "--models-dir", {models!r}, "--providers", "cpu",
             "--mouth-mask", "--mask", "hull", "--restore"])
assert not [m for m in sys.modules if m == "insightface" or m.startswith("insightface.")]
import numpy as np
np.save({probe_out!r}, face)
sys.exit(code)
"""


def test_the_app_imports_and_swaps_without_insightface(standin_models_dir: Path, photo_files: dict[str, Path],
                                                       tmp_path: Path) -> None:
    output, probe_out = tmp_path / "out.png", tmp_path / "probe.npy"
    script = blocked("insightface") + SCRIPT.format(
        source=str(photo_files["astronaut"]), target=str(photo_files["t1"]), output=str(output),
        models=str(standin_models_dir), probe_out=str(probe_out))
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=180,
                          env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    assert done.returncode == 0, done.stderr[-3000:]
    result, target = cv2.imread(str(output)), cv2.imread(str(photo_files["t1"]))
    assert result is not None and result.shape == target.shape
    assert np.abs(result.astype(int) - target).mean() > 1.0  # the six faces were swapped
    # The probe face without insightface is the astronaut, aligned like a swap crop (not the synthetic fallback).
    from app.core.swap import align_crop
    from tests.standins import photos

    astronaut = photos.astronaut()
    expected, _ = align_crop(astronaut.image, astronaut.faces[0].points, 128)
    np.testing.assert_array_equal(np.load(probe_out), expected)
