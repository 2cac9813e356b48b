"""Run the packaged app as a user would: open its window (offscreen) and quit on request, then swap a real
photo with stand-in models. Prints the bundle's size. Used by .ci/run after `pyinstaller build_pyinstaller.spec`.

    python packaging/smoke_test.py dist/deep-live-cam/deep-live-cam
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import cv2

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.standins import build_models_dir, photos  # noqa: E402


def folder_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def run(cmd: list[str], env: dict[str, str], timeout: float) -> subprocess.CompletedProcess[str]:
    print("$", " ".join(cmd), flush=True)
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    print(proc.stdout[-2000:], proc.stderr[-2000:], sep="\n", flush=True)
    return proc


def main() -> int:
    exe = Path(sys.argv[1]).resolve()
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        models = build_models_dir(tmp_path / "models")
        source, target, out = tmp_path / "source.png", tmp_path / "t1.png", tmp_path / "out.png"
        cv2.imwrite(str(source), photos.astronaut().image)
        cv2.imwrite(str(target), photos.t1().image)
        env = dict(os.environ, QT_QPA_PLATFORM="offscreen", DLC_MODELS_DIR=str(models),
                   HOME=str(tmp_path))  # a fresh user: settings and data folders in the temp dir
        gui = run([str(exe), "gui", "--exit-after", "3"], env, timeout=120)
        assert gui.returncode == 0, f"the frozen GUI exited with {gui.returncode}"
        swap = run([str(exe), "swap", str(source), str(target), "-o", str(out)], env, timeout=120)
        assert swap.returncode == 0 and out.is_file(), "the frozen swap failed"
        changed = (cv2.imread(str(out)) != photos.t1().image).any(axis=2).mean()
        assert 0.01 < changed < 0.5, f"unexpected share of changed pixels: {changed:.3f}"
        bad = run([str(exe), "swap", str(tmp_path / "nope.jpg"), str(target), "-o", str(out)], env, timeout=120)
        assert bad.returncode == 4 and "Traceback" not in bad.stderr
    size = folder_size(exe.parent)
    print(f"bundle OK: {exe.parent} is {size / 2**20:.0f} MiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
