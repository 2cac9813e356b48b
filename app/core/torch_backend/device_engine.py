"""The engine's work on faces with the frame kept on the torch device (issue 11: "the frame stays on the
device"): one upload per frame, every face aligned as one batch by affine sampling on the device, the swap on
the batch, the same mask, blend, colour correction and face-scale maths as the CPU paste (region-only) on the
device, restoration on the device, one download per output frame.

The masks (and the 106 landmarks they may need) are made on the host from the host frame, as on the CPU path,
and uploaded with the batch. Restoration's finishing filters (denoise before GFPGAN, detail and sharpening after)
are the CPU path's OpenCV filters: the 512x512 crops make a round trip to the host for them (0.75 MB a face),
so the result is the CPU path's; the frame itself stays on the device.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from app.core.masks import MaskMaker
from app.core.options import RestoreOptions, SwapOptions
from app.core.paste import feather_mask
from app.core.restore import SIZE as RESTORE_SIZE
from app.core.restore import denoise, enhance_details, ffhq_matrix, sharpen
from app.core.swap import alignment_matrix
from app.core.torch_backend.frame_ops import (
    align_crops,
    from_gfpgan_output,
    from_swapper_output,
    to_gfpgan_input,
    to_swapper_input,
)
from app.core.torch_backend.paste_ops import DevicePaster
from app.core.torch_backend.transfer import FrameTransfer
from app.core.types import Face, Frame

Landmarker = Callable[[Frame, Face], Any]  # the 106 points of a face, or None


class DeviceFaces:
    """Swaps (and restores) faces of host frames with all the work on `swapper.device`."""

    def __init__(self, swapper: Any, masks: MaskMaker) -> None:
        self.swapper = swapper
        self.device = torch.device(swapper.device)
        self.size = int(swapper.input_size[0])
        self.transfer = FrameTransfer(self.device)
        self.paster = DevicePaster(self.size, self.device)
        self._restore_paster: DevicePaster | None = None
        self._masks = masks

    # -- the swap -----------------------------------------------------------------------------------------
    def swap_crops(self, frame_t: torch.Tensor, faces: Sequence[Face], latents: Sequence[np.ndarray]
                   ) -> tuple[torch.Tensor, torch.Tensor, list[np.ndarray]]:
        """(swapped crops, original crops, matrices) of the faces of a device frame, as one batch."""
        matrices = [alignment_matrix(f.points, self.size) for f in faces]
        crops = align_crops(frame_t, matrices, self.size)
        lat = torch.from_numpy(np.concatenate([np.asarray(x, np.float32).reshape(1, -1) for x in latents]))
        swapped = from_swapper_output(self.swapper.swap(to_swapper_input(crops), lat.to(self.device)))
        return swapped, crops, matrices

    def paste(self, frame_t: torch.Tensor, host_frame: Frame, faces: Sequence[Face], swapped: torch.Tensor,
              references: torch.Tensor, matrices: Sequence[np.ndarray], options: SwapOptions,
              landmarks: Sequence[Any] | None) -> None:
        """Paste `swapped` (N x 3 x S x S BGR 0..255) at the faces, in place, with the options' masks."""
        alphas = [self._masks.alpha(self.size, m, options.face_mask, options.mouth,
                                    landmarks[i] if landmarks is not None else None, options.face_scale)
                  for i, m in enumerate(matrices)]
        masks = None
        if any(a is not None for a in alphas):
            box = feather_mask(self.size)
            masks = torch.from_numpy(np.stack([box if a is None else a for a in alphas])).to(self.device)
        self.paster.paste(frame_t, swapped, matrices, blend=options.blend, face_scale=options.face_scale,
                          colour_references=references if options.color_correction else None, masks=masks)

    # -- restoration --------------------------------------------------------------------------------------
    def restore(self, frame_t: torch.Tensor, faces: Sequence[Face], restorer: Any, options: RestoreOptions) -> None:
        """GFPGAN on every face of the device frame, in place, with the CPU path's finishing filters."""
        if not faces:
            return
        if self._restore_paster is None:
            self._restore_paster = DevicePaster(RESTORE_SIZE, self.device)
        matrices = [ffhq_matrix(f.points) for f in faces]
        scales = [float(np.sqrt(abs(np.linalg.det(m[:, :2])))) for m in matrices]
        crops = align_crops(frame_t, matrices, RESTORE_SIZE, "reflect101")
        if options.denoise > 0.0:
            crops = self._on_host(crops, lambda crop, s: denoise(crop, options.denoise, s), scales)
        restored = from_gfpgan_output(_restore(restorer, to_gfpgan_input(crops)))
        if options.enhance_details or options.sharpen > 0.0:
            def finish(crop: Frame, scale: float) -> Frame:
                out = enhance_details(crop) if options.enhance_details else crop
                return sharpen(out, options.sharpen, scale)

            restored = self._on_host(restored, finish, scales)
        self._restore_paster.paste(frame_t, restored, matrices, blend=options.strength)

    def _on_host(self, crops: torch.Tensor, fn: Callable[[Frame, float], Frame], scales: Sequence[float]
                 ) -> torch.Tensor:
        host = crops.permute(0, 2, 3, 1).to(torch.uint8).cpu().numpy()
        done = np.stack([fn(np.ascontiguousarray(c), s) for c, s in zip(host, scales, strict=True)])
        return torch.from_numpy(done).permute(0, 3, 1, 2).to(self.device, torch.float32)


def _restore(restorer: Any, faces: torch.Tensor) -> torch.Tensor:
    """The restorer on a batch: the torch one directly; an onnxruntime one through the host."""
    if hasattr(restorer, "restore"):
        out: torch.Tensor = restorer.restore(faces)
        return out
    blob = faces.cpu().numpy()
    name = restorer.get_inputs()[0].name
    outs = [restorer.run(None, {name: blob[i:i + 1]})[0] for i in range(blob.shape[0])]
    return torch.from_numpy(np.concatenate(outs)).to(faces.device)


def synchronised_ms(device: torch.device, since: float) -> float:
    """Milliseconds since `since`, after the device's queued work has run (a stage's real time)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()
    return (time.perf_counter() - since) * 1000.0
