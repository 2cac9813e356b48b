"""Every model file the app knows: where it lives under the models folder, what it is, and how to get it.

(Skeleton: sizes, hashes, sources and licences are filled in by the manifest work.)
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ModelFile:
    key: str  # stable identifier used in code and on the command line
    relpath: str  # path under the models folder, '/'-separated
    purpose: str
    required: bool  # needed for a plain swap


INSWAPPER = ModelFile("inswapper", "inswapper_128.onnx", "face swap", True)
DETECTOR = ModelFile("detector", "buffalo_l/det_10g.onnx", "face detection (SCRFD)", True)
RECOGNIZER = ModelFile("recognizer", "buffalo_l/w600k_r50.onnx", "face recognition (ArcFace)", True)
RESTORER_PTH = ModelFile("gfpgan", "GFPGANv1.4.pth", "face restoration (GFPGAN v1.4 checkpoint)", False)
RESTORER_ONNX = ModelFile("gfpgan-onnx", "GFPGANv1.4.onnx", "face restoration (GFPGAN v1.4, ONNX)", False)

MODEL_FILES: tuple[ModelFile, ...] = (INSWAPPER, DETECTOR, RECOGNIZER, RESTORER_PTH, RESTORER_ONNX)
