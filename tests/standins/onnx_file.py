"""Writing a stand-in graph as an ONNX file, the same way for every builder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import onnx
from onnx import helper

OPSET = 17
IR_VERSION = 8  # loadable by every onnxruntime the project supports


def save_graph(graph: Any, path: Path) -> Path:
    """Wrap `graph` in a model (opset 17), check it, and write it to `path` (folders created)."""
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        ir_version=IR_VERSION,
        producer_name="deep-live-cam-standins",
    )
    onnx.checker.check_model(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    return path
