"""`deep-live-cam swap` end to end on real photos with stand-in models, and each error class's exit code."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from app.cli import main
from tests.standins import photos


def swap(models: Path, *args: str) -> int:
    return main(["swap", *args, "--models-dir", str(models)])


@pytest.mark.parametrize("ext", [".png", ".jpg", ".webp"])
def test_every_face_of_t1_is_swapped(standin_models_dir, photo_files, tmp_path, ext, capsys):
    out = tmp_path / f"out{ext}"
    assert swap(standin_models_dir, str(photo_files["astronaut"]), str(photo_files["t1"]), "-o", str(out)) == 0
    assert "swapped 6 face(s)" in capsys.readouterr().out
    result = cv2.imread(str(out))
    original = photos.t1().image
    assert result.shape == original.shape
    for face in photos.t1().faces:
        x0, y0 = face.points.min(axis=0).astype(int)
        x1, y1 = face.points.max(axis=0).astype(int)
        assert np.abs(result[y0:y1, x0:x1].astype(int) - original[y0:y1, x0:x1]).mean() > 30
    if ext == ".png":  # lossless: far pixels are bit-for-bit the original
        far = np.ones(original.shape[:2], bool)
        for face in photos.t1().faces:
            x0, y0, x1, y1 = (int(v) for v in face.box)
            w, h = x1 - x0, y1 - y0
            far[max(0, y0 - h):y1 + h, max(0, x0 - w):x1 + w] = False
        assert np.array_equal(result[far], original[far])


def test_largest_and_options(standin_models_dir, photo_files, tmp_path):
    out = tmp_path / "out.png"
    code = swap(standin_models_dir, str(photo_files["tom_hanks"]), str(photo_files["t1"]), "-o", str(out),
                "--faces", "largest",
                "--blend", "0.6", "--no-color-correction", "--face-scale", "1.1", "--providers", "cpu")
    assert code == 0
    changed = np.any(cv2.imread(str(out)) != photos.t1().image, axis=2)
    # one face region only: the changed pixels fit in one face-sized box
    ys, xs = np.nonzero(changed)
    assert xs.max() - xs.min() < 300 and ys.max() - ys.min() < 300


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["{blank}", "{t1}"], 5, "no face found in the source"),
        (["{astronaut}", "{blank}"], 5, "no face found in the target"),
        (["{text}", "{t1}"], 4, "not an image"),
        (["{missing}", "{t1}"], 4, "does not exist"),
        (["{astronaut}", "{t1}", "--blend", "2"], 2, "blend must be between"),
    ],
)
def test_bad_input_gets_a_message_and_its_exit_code(standin_models_dir, photo_files, tmp_path, capsys, args, code,
                                                    message):
    names = {k: str(v) for k, v in photo_files.items()} | {"missing": str(tmp_path / "nope.jpg")}
    argv = [a.format(**names) for a in args]
    out = tmp_path / "out.png"
    assert swap(standin_models_dir, *argv, "-o", str(out)) == code
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not out.exists()


def test_unwritable_output(standin_models_dir, photo_files, tmp_path, capsys):
    assert swap(standin_models_dir, str(photo_files["astronaut"]), str(photo_files["t1"]), "-o",
                str(tmp_path / "no-such-folder" / "out.png")) == 6
    gif = tmp_path / "o.gif"
    assert swap(standin_models_dir, str(photo_files["astronaut"]), str(photo_files["t1"]), "-o", str(gif)) == 6
    assert "unsupported output format" in capsys.readouterr().err


def test_missing_models_exit_3_naming_files(photo_files, tmp_path, capsys):
    assert swap(tmp_path, str(photo_files["astronaut"]), str(photo_files["t1"]), "-o", str(tmp_path / "o.png")) == 3
    err = capsys.readouterr().err
    assert "inswapper_128.onnx" in err and "deep-live-cam models download" in err


def test_corrupt_model_exit_3(standin_models_dir, photo_files, tmp_path, capsys):
    models = tmp_path / "models"
    shutil.copytree(standin_models_dir, models)
    (models / "buffalo_l" / "det_10g.onnx").write_bytes(os.urandom(4096))
    assert swap(models, str(photo_files["astronaut"]), str(photo_files["t1"]), "-o", str(tmp_path / "o.png")) == 3
    assert "corrupt" in capsys.readouterr().err


def test_console_script_and_python_m(standin_models_dir, photo_files, tmp_path):
    env = dict(os.environ, DLC_MODELS_DIR=str(standin_models_dir))
    out = tmp_path / "o.png"
    proc = subprocess.run([sys.executable, "-m", "app", "swap", str(photo_files["astronaut"]), str(photo_files["t1"]),
                           "-o", str(out)], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert out.is_file()
    exe = Path(sys.executable).with_name("deep-live-cam")
    proc = subprocess.run([str(exe), "swap", str(photo_files["blank"]), str(photo_files["t1"]), "-o", str(out)],
                          env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 5 and "Traceback" not in proc.stderr
