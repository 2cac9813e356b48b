"""Which optional packages this install has. Asked without importing them (torch takes seconds to import)."""

from __future__ import annotations

import importlib.util


def torch_available() -> bool:
    """Whether PyTorch can be imported here (the packaged app has none): it converts a GFPGANv1.4.pth."""
    return importlib.util.find_spec("torch") is not None
