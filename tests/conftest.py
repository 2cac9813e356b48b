"""Fixtures shared by every test folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture(scope="session")
def standin_models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A models folder laid out like the real one, with stand-in files (see tests/standins)."""
    from tests.standins import build_models_dir

    return build_models_dir(tmp_path_factory.mktemp("models"))
