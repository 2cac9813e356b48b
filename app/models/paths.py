"""Where model files live.

`<models>` is, in order: an explicit folder (`--models-dir`), the `DLC_MODELS_DIR` environment variable,
`./models` of a source checkout, else a per-user data folder (a frozen app's own folder is read-only).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import platformdirs

ENV_MODELS_DIR = "DLC_MODELS_DIR"
APP_NAME = "deep-live-cam"


def source_checkout_root() -> Path | None:
    """The repository root when running from a source checkout (not installed, not frozen)."""
    if getattr(sys, "frozen", False):
        return None
    root = Path(__file__).resolve().parents[2]
    if (root / "pyproject.toml").is_file() and (root / "models").is_dir():
        return root
    return None


def user_models_dir() -> Path:
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False)) / "models"


def resolve_models_dir(explicit: str | os.PathLike[str] | None = None) -> Path:
    if explicit:
        return Path(explicit).expanduser()
    env = os.environ.get(ENV_MODELS_DIR)
    if env:
        return Path(env).expanduser()
    root = source_checkout_root()
    if root is not None:
        return root / "models"
    return user_models_dir()
