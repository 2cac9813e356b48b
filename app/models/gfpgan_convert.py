"""Turn the official GFPGANv1.4.pth into the ONNX file the restorer runs, once, and cache it.

Contract of the ONNX file (ours and any user-supplied `GFPGANv1.4.onnx`): one input [1, 3, 512, 512]
float32 RGB scaled to [-1, 1], one output of the same shape and range.

The conversion is the only place that needs torch; it is imported here lazily (and `gfpgan_arch` with it),
so the rest of the app imports and runs without it. The converted file lives beside the checkpoint as
`GFPGANv1.4.<first 12 hex of the checkpoint's sha256>.onnx`: a different .pth gets a new conversion, the
same one never converts twice. It is written to a temporary file and renamed into place, so an interrupted
conversion leaves nothing that looks finished.

Export method: torch 2.13's default ONNX exporter (dynamo=True) needs onnxscript, which the app does not
install; the TorchScript-based exporter (`dynamo=False`, opset 17) handles this network fully (it warns
that it is deprecated; the warning is silenced here).
"""

from __future__ import annotations

import logging
import os
import re
import sys
import time
import warnings
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.errors import ModelError
from app.models.manifest import RESTORER_ONNX, RESTORER_PTH
from app.models.status import sha256_file

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)

TORCH_HINT = "pip install torch==2.13.0"
OPSET = 17
INPUT_NAME = "input"
OUTPUT_NAME = "output"
_CACHE_RE = re.compile(r"^GFPGANv1\.4\.[0-9a-f]{12}\.onnx$")
_SHOW_KEYS = 4  # how many offending keys a message names


@dataclass(frozen=True)
class ArchConfig:
    """GFPGANv1Clean's size parameters; the defaults are GFPGAN v1.4's. Smaller ones exist for tests."""

    out_size: int = 512
    num_style_feat: int = 512
    channel_multiplier: int = 2
    num_mlp: int = 8
    narrow: float = 1.0
    sft_half: bool = True


V14 = ArchConfig()


def cached_onnx_path(pth: Path, sha256: str) -> Path:
    return pth.with_name(f"{pth.stem}.{sha256[:12]}.onnx")


def ensure_restorer_onnx(models_dir: Path, config: ArchConfig = V14) -> Path:
    """The ONNX restorer to load: `GFPGANv1.4.onnx` if present, else the cached conversion of
    `GFPGANv1.4.pth` (converting it now if needed). Raises ModelError when neither file exists."""
    onnx_path = models_dir / RESTORER_ONNX.relpath
    if onnx_path.is_file():
        return onnx_path
    pth = models_dir / RESTORER_PTH.relpath
    if not pth.is_file():
        raise missing_restorer_error(models_dir)
    if not any(pth.parent.glob(f"{pth.stem}.*.onnx")):
        _import_torch(pth)  # nothing converted yet: say at once, before hashing 350 MB, if it cannot be
    try:
        digest = sha256_file(pth)
    except OSError as exc:
        raise ModelError(f"Cannot read {pth}: {exc}", fetch=None) from exc
    cached = cached_onnx_path(pth, digest)
    if cached.is_file():
        return cached
    convert_checkpoint(pth, cached, config)
    _remove_stale_conversions(cached)
    return cached


def missing_restorer_error(models_dir: Path) -> ModelError:
    onnx_path, pth = models_dir / RESTORER_ONNX.relpath, models_dir / RESTORER_PTH.relpath
    return ModelError(f"Face restoration needs {pth} or {onnx_path}, and neither exists.", fetch=("gfpgan",))


def convert_checkpoint(pth: Path, onnx_path: Path, config: ArchConfig = V14) -> Path:
    """Load `pth` (weights under `params_ema`) into GFPGANv1Clean with strict key matching and export it."""
    torch = _import_torch(pth)
    from app.models.gfpgan_arch import GFPGANv1Clean, OnnxWrapper

    state = extract_state_dict(load_checkpoint(torch, pth), pth)
    net = GFPGANv1Clean(**asdict(config))
    load_weights(net, state, pth)
    net.eval()

    log.info("converting %s to ONNX (once; this takes a while)", pth)
    started = time.perf_counter()
    tmp = onnx_path.with_name(f".{onnx_path.name}.{os.getpid()}.tmp")
    try:
        size = config.out_size
        dummy = torch.zeros(1, 3, size, size)
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notices
            torch.onnx.export(
                OnnxWrapper(net).eval(),
                (dummy,),
                str(tmp),
                input_names=[INPUT_NAME],
                output_names=[OUTPUT_NAME],
                opset_version=OPSET,
                dynamo=False,
                do_constant_folding=True,
            )
        os.replace(tmp, onnx_path)
    except OSError as exc:
        raise ModelError(
            f"Cannot write the converted restorer {onnx_path}: {exc}. Make {onnx_path.parent} writable, "
            f"or convert elsewhere and put the result there as {RESTORER_ONNX.relpath}.", fetch=None
        ) from exc
    finally:
        tmp.unlink(missing_ok=True)
    log.info("converted %s -> %s in %.1f s", pth.name, onnx_path.name, time.perf_counter() - started)
    return onnx_path


def load_weights(net: torch.nn.Module, state: Mapping[str, torch.Tensor], source: Path) -> None:
    """Strict load, after a check that names the offending keys in words a user can act on."""
    expected = {k: tuple(v.shape) for k, v in net.state_dict().items()}
    problems = layout_problems({k: tuple(v.shape) for k, v in state.items()}, expected)
    if problems:
        raise ModelError(
            f"{source} is not a GFPGAN v1.4 checkpoint (GFPGANv1Clean): {problems}. "
            "Replace it with the official file.", fetch=("gfpgan",)
        )
    # A network built on the meta device (layout checks) can only take the tensors by assignment; a real
    # one copies them, which keeps its float32 dtype whatever the file holds.
    on_meta = any(p.is_meta for p in net.parameters())
    net.load_state_dict(state, strict=True, assign=on_meta)


def extract_state_dict(obj: object, source: Path) -> dict[str, torch.Tensor]:
    """The network weights inside a loaded checkpoint: `params_ema` (official files), `params`, or a
    bare state dict."""
    import torch

    candidate: object = obj
    if isinstance(obj, Mapping):
        for key in ("params_ema", "params"):
            if key in obj:
                candidate = obj[key]
                break
    if (
        isinstance(candidate, Mapping)
        and candidate
        and all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in candidate.items())
    ):
        return dict(candidate)
    found = ", ".join(map(str, list(obj)[:_SHOW_KEYS])) if isinstance(obj, Mapping) else type(obj).__name__
    raise ModelError(
        f"{source} holds no network weights (expected a `params_ema` table of tensors; found {found}). "
        "It is not a GFPGAN checkpoint: replace it with the official file.", fetch=("gfpgan",)
    )


def layout_problems(found: Mapping[str, tuple[int, ...]], expected: Mapping[str, tuple[int, ...]]) -> str:
    """'' when `found` has exactly the expected keys and shapes, else a short description naming a few."""
    missing = [k for k in expected if k not in found]
    unexpected = [k for k in found if k not in expected]
    misshaped = [k for k in expected if k in found and tuple(found[k]) != tuple(expected[k])]
    parts = []
    if missing:
        parts.append(f"{len(missing)} missing key(s) ({_names(missing)})")
    if unexpected:
        parts.append(f"{len(unexpected)} unexpected key(s) ({_names(unexpected)})")
    if misshaped:
        shown = ", ".join(
            f"{k}: {tuple(found[k])} in the file, {tuple(expected[k])} expected"
            for k in misshaped[:_SHOW_KEYS]
        )
        more = f", +{len(misshaped) - _SHOW_KEYS} more" if len(misshaped) > _SHOW_KEYS else ""
        parts.append(f"{len(misshaped)} mis-shaped key(s) ({shown}{more})")
    return "; ".join(parts)


def _names(keys: list[str]) -> str:
    more = f", +{len(keys) - _SHOW_KEYS} more" if len(keys) > _SHOW_KEYS else ""
    return ", ".join(keys[:_SHOW_KEYS]) + more


def _import_torch(pth: Path) -> Any:
    if getattr(sys, "frozen", False):
        raise ModelError(
            f"{pth} must be converted to ONNX once, and the packaged app cannot do that (it has no PyTorch). "
            f"Put an ONNX export at {pth.with_name(RESTORER_ONNX.relpath)}: a Python install of Deep Live Cam "
            f"with `pip install \"deep-live-cam[convert]\"` converts it on first use and caches it beside the "
            f".pth as {pth.stem}.<hash>.onnx; copy that file there as {RESTORER_ONNX.relpath}.", fetch=None
        )
    try:
        import torch
    except (ImportError, OSError) as exc:
        raise ModelError(
            f"{pth} must be converted to ONNX once, and that needs PyTorch, which is not available ({exc}). "
            f"Install it (`{TORCH_HINT}`) and run again, or put an ONNX export of the model at "
            f"{pth.with_name(RESTORER_ONNX.relpath)}.", fetch=None
        ) from exc
    return torch


def load_checkpoint(torch: Any, pth: Path) -> object:
    """`torch.load` of a checkpoint (tensors only), with a ModelError a user can act on when it fails."""
    try:
        return torch.load(pth, map_location="cpu", weights_only=True)
    except OSError as exc:
        raise ModelError(f"Cannot read {pth}: {exc}", fetch=None) from exc
    except Exception as exc:  # torch raises RuntimeError, UnpicklingError, EOFError, ... for bad files
        raise ModelError(
            f"{pth} cannot be read as a PyTorch checkpoint: {_load_failure(pth, exc)}. "
            "Delete it and download it again.", fetch=("gfpgan",)
        ) from exc


def _load_failure(pth: Path, exc: Exception) -> str:
    text = str(exc)
    unsafe = re.search(r"Unsupported global: GLOBAL (\S+)", text)
    if unsafe:
        return (
            f"it contains Python objects besides tensors ({unsafe.group(1)}), which are not loaded for safety"
        )
    try:
        with pth.open("rb") as fh:
            head = fh.read(4)
    except OSError:
        head = b"PK"
    if not head:
        return "the file is empty"
    # torch.save writes a zip archive ("PK"); its pre-1.6 format begins with a pickle protocol byte (0x80).
    if not head.startswith((b"PK", b"\x80")):
        return f"it is not a PyTorch file at all (it begins {head!r}; a failed download saved as a web page?)"
    first = text.strip().splitlines()[0].split(". ")[0] if text.strip() else type(exc).__name__
    return f"it is corrupt or truncated ({first[:160]})"


def _remove_stale_conversions(keep: Path) -> None:
    """Conversions of earlier checkpoints (a replaced .pth) are ~350 MB each: drop them."""
    for other in keep.parent.iterdir():
        if other != keep and _CACHE_RE.match(other.name):
            try:
                other.unlink()
                log.info("removed stale conversion %s", other)
            except OSError:
                log.warning("could not remove stale conversion %s", other)
