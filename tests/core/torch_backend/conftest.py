"""Stand-in files for the torch backend's tests, built once per session at small widths (fast on a CPU)."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("torch")
try:  # through the backend's own import: onnx2torch alone needs torchvision, which the backend does not
    from app.core.torch_backend import TorchUnavailable
    from app.core.torch_backend.convert import import_onnx2torch

    import_onnx2torch()
except TorchUnavailable as exc:  # pragma: no cover - CI installs the test extra
    pytest.skip(str(exc), allow_module_level=True)

CPU = ["CPUExecutionProvider"]


def insightface_model(path: Path) -> Any:
    """The file loaded by insightface's own model_zoo (the reference the torch backend must agree with)."""
    from insightface import model_zoo

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return model_zoo.get_model(str(path), providers=CPU)


@pytest.fixture(scope="session")
def torch_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """inswapper-like (width 8; plus batch-pinned and fp16-overflowing variants) and det_10g-like (width 0.25)."""
    from tests.standins.det_real import build_det_10g_like
    from tests.standins.inswapper_real import build_inswapper_like

    root = tmp_path_factory.mktemp("torch_models")
    logging.getLogger("onnx2torch").setLevel(logging.WARNING)
    return {
        "inswapper": build_inswapper_like(root / "inswapper_128.onnx", width=8),
        "inswapper_pinned": build_inswapper_like(root / "pinned" / "inswapper_128.onnx", width=8, batch_pinned=True),
        "inswapper_overflow": build_inswapper_like(root / "overflow" / "inswapper_128.onnx", width=8,
                                                   overflow_gain=3e4),
        "det": build_det_10g_like(root / "buffalo_l" / "det_10g.onnx", width=0.25, score_bias=-4.0),
    }
