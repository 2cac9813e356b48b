"""Which backend runs each model, and with what precision (`--backend`, `--precision`).

`auto` runs torch on a GPU torch can use (CUDA, ROCm, Apple MPS) and onnxruntime on its best provider
otherwise (the CPU's default: onnxruntime is faster there). The torch backend (app/core/torch_backend) runs the
same files: det_10g.onnx and inswapper_128.onnx converted generically, GFPGANv1.4.pth natively; a model it
cannot run falls back to onnxruntime, said once in the log. The recogniser always runs on onnxruntime (once per
source photo and per new tracked face).

Precision: `auto` is fp16 on a GPU where a probe face shows it safe, else fp32. onnxruntime takes fp16 from the
opt-in `inswapper_128_fp16.onnx` (checked against fp32 on a probe face at load, like torch's) and int8 from the
CPU-only copy `models optimize` builds (app/core/int8.py).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal

from app.core.options import EngineOptions
from app.errors import OptionError

log = logging.getLogger(__name__)

BackendName = Literal["onnxruntime", "torch"]


@dataclass(frozen=True)
class Runtime:
    """The choices an engine runs with, resolved on this machine."""

    backend: BackendName
    precision: str  # as asked: auto, fp32, fp16, int8
    reason: str  # why this backend, for the log and /health

    @property
    def on_torch(self) -> bool:
        return self.backend == "torch"


def resolve(options: EngineOptions) -> Runtime:
    """The backend to use for `options` here. Raises OptionError for a combination that cannot work."""
    from app.core.torch_backend.device import gpu_available, onnx2torch_importable, torch_importable

    if options.backend == "torch":
        if not torch_importable():
            log.warning("--backend torch: PyTorch is not installed here, so the models run on onnxruntime "
                        '(pip install "deep-live-cam[torch]")')
            runtime = Runtime("onnxruntime", options.precision, "torch asked for but not installed")
        else:
            runtime = Runtime("torch", options.precision, "asked for")
    elif options.backend == "onnxruntime":
        runtime = Runtime("onnxruntime", options.precision, "asked for")
    elif options.precision != "int8" and gpu_available():
        if onnx2torch_importable():
            runtime = Runtime("torch", options.precision, "a GPU torch can use")
        else:  # torch came for GFPGAN's conversion only ([gpu,convert]): onnxruntime's GPU build runs the models
            log.info('a GPU torch can use, but onnx2torch is not installed; for the torch backend: pip install '
                     '"deep-live-cam[torch]"')
            runtime = Runtime("onnxruntime", options.precision, "the torch backend is not installed (onnx2torch)")
    else:
        runtime = Runtime("onnxruntime", options.precision, "no GPU torch can use" if options.precision != "int8"
                          else "int8 runs on onnxruntime")
    if runtime.on_torch and options.precision == "int8":
        raise OptionError("--precision int8 is for the CPU with onnxruntime (torch on a GPU is faster in fp16); "
                          "use --backend onnxruntime or another precision")
    log.info("models run on %s (%s), precision %s", runtime.backend, runtime.reason, runtime.precision)
    return runtime
