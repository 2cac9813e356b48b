"""`deep-live-cam restore` and `swap --restore` end to end."""

from __future__ import annotations

import shutil

import cv2
import numpy as np

from app.cli import main
from tests.standins import photos


def test_restore_command(standin_models_dir, photo_files, tmp_path, capsys):
    out = tmp_path / "r.png"
    code = main(["restore", str(photo_files["t1"]), "-o", str(out), "--strength", "0.8", "--denoise", "0.5",
                 "--sharpen", "0.4", "--models-dir", str(standin_models_dir)])
    assert code == 0
    assert "restored 6 face(s)" in capsys.readouterr().out
    result = cv2.imread(str(out))
    for face in photos.t1().faces:
        x0, y0 = face.points.min(axis=0).astype(int)
        x1, y1 = face.points.max(axis=0).astype(int)
        assert np.abs(result[y0:y1, x0:x1].astype(int) - photos.t1().image[y0:y1, x0:x1]).mean() > 10
    assert np.array_equal(result[:40, :40], photos.t1().image[:40, :40])


def test_swap_with_restore_command(standin_models_dir, photo_files, tmp_path):
    plain, restored = tmp_path / "s.png", tmp_path / "sr.png"
    args = [str(photo_files["astronaut"]), str(photo_files["t1"]), "--models-dir", str(standin_models_dir)]
    assert main(["swap", *args, "-o", str(plain)]) == 0
    assert main(["swap", *args, "-o", str(restored), "--restore", "--restore-strength", "0.7"]) == 0
    assert not np.array_equal(cv2.imread(str(plain)), cv2.imread(str(restored)))


def test_restore_errors(standin_models_dir, photo_files, tmp_path, capsys):
    models = tmp_path / "m"
    shutil.copytree(standin_models_dir, models)
    (models / "GFPGANv1.4.onnx").unlink()
    assert main(["restore", str(photo_files["t1"]), "-o", str(tmp_path / "o.png"), "--models-dir", str(models)]) == 3
    err = capsys.readouterr().err
    assert "GFPGANv1.4.pth" in err and "models download gfpgan" in err
    assert main(["swap", str(photo_files["astronaut"]), str(photo_files["t1"]), "-o", str(tmp_path / "o.png"),
                 "--restore",
                 "--models-dir", str(models)]) == 3
    assert main(["restore", str(photo_files["blank"]), "-o", str(tmp_path / "o.png"),
                 "--models-dir", str(standin_models_dir)]) == 5
    assert main(["restore", str(photo_files["t1"]), "-o", str(tmp_path / "o.png"), "--strength", "1.5",
                 "--models-dir", str(standin_models_dir)]) == 2
    assert not (tmp_path / "o.png").exists()
