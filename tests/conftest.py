"""Fixtures shared by every test folder."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from tests.standins import TrackingScene

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture(scope="session")
def standin_models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A models folder laid out like the real one, with stand-in files (see tests/standins):
    inswapper_128.onnx, buffalo_l/det_10g.onnx (planted with t1.jpg, astronaut and Tom Hanks at det size 640),
    buffalo_l/w600k_r50.onnx. Treat it as read-only."""
    from tests.standins import build_models_dir

    return build_models_dir(tmp_path_factory.mktemp("models"))


@pytest.fixture(scope="session")
def standin_tracking(tmp_path_factory: pytest.TempPathFactory) -> TrackingScene:
    """A det_10g-shaped detector that follows content, and 640x360 frames panning over t1.jpg
    (`frame(dx, dy)` gives a frame and its true faces)."""
    from tests.standins import build_tracking_scene

    return build_tracking_scene(tmp_path_factory.mktemp("standin_tracking") / "det_10g.onnx")
