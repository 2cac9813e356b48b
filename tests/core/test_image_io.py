from __future__ import annotations

import os

import numpy as np
import pytest

from app.core.image_io import read_image, write_image
from app.errors import InputError, OutputError


def test_written_images_get_the_usual_permissions(tmp_path):
    umask = os.umask(0)
    os.umask(umask)
    out = write_image(tmp_path / "a.png", np.zeros((8, 8, 3), np.uint8))
    assert out.stat().st_mode & 0o777 == 0o666 & ~umask
    assert [p.name for p in tmp_path.iterdir()] == ["a.png"]  # no temp file left beside it


def test_round_trip_and_errors(tmp_path):
    frame = np.random.default_rng(0).integers(0, 256, (20, 30, 3), dtype=np.uint8)
    assert np.array_equal(read_image(write_image(tmp_path / "a.png", frame)), frame)
    with pytest.raises(OutputError, match="does not exist"):
        write_image(tmp_path / "missing" / "a.png", frame)
    with pytest.raises(OutputError, match="unsupported output format"):
        write_image(tmp_path / "a.bmp", frame)
    (tmp_path / "x.jpg").write_bytes(b"")
    with pytest.raises(InputError, match="empty"):
        read_image(tmp_path / "x.jpg")
    with pytest.raises(InputError, match="not a file"):
        read_image(tmp_path)
