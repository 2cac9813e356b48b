"""Swap and restore the faces of a device frame: align all faces as one batch, run the model once on the
batch, paste back in order. The models are callables (the torch backends), so this module stays free of
model loading.

    transfer = FrameTransfer(device)
    paster = DevicePaster(128, device)
    frame_t = transfer.upload(frame)                       # the one upload
    swap_faces(frame_t, [alignment_matrix(f.points, 128) for f in faces], model, paster, blend=0.8, ...)
    restore_faces(frame_t, [f.points for f in pasted], gfpgan, restore_paster, strength=0.5)
    out = transfer.download(frame_t)                       # the one download

where `model` maps the N x 3 x 128 x 128 swapper input to its output with the source latent bound in.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from app.core.paste import Region
from app.core.restore import SIZE as RESTORE_SIZE
from app.core.restore import ffhq_matrix
from app.core.torch_backend.frame_ops import (
    Matrices,
    align_crops,
    from_gfpgan_output,
    from_swapper_output,
    to_gfpgan_input,
    to_swapper_input,
)
from app.core.torch_backend.paste_ops import DevicePaster
from app.core.types import Points

Model = Callable[[torch.Tensor], torch.Tensor]


def swap_faces(
    frame: torch.Tensor,
    matrices: Matrices,
    model: Model,
    paster: DevicePaster,
    blend: float = 1.0,
    face_scale: float = 1.0,
    color_correction: bool = True,
    masks: torch.Tensor | None = None,
    dtype: torch.dtype = torch.float32,
) -> list[Region | None]:
    """Engine.swap's per-face work for all faces at once, on the device, into `frame` in place.

    `matrices`: the frame -> 128 crop alignment of each face (app.core.swap.alignment_matrix). `model` gets
    N x 3 x S x S RGB [0, 1] in `dtype` and returns the same layout. Returns each face's pasted region."""
    if len(matrices) == 0:
        return []
    crops = align_crops(frame, matrices, paster.crop_size)
    swapped = from_swapper_output(model(to_swapper_input(crops, dtype)))
    return paster.paste(frame, swapped, matrices, blend=blend, face_scale=face_scale,
                        colour_references=crops if color_correction else None, masks=masks)


def restore_faces(
    frame: torch.Tensor,
    points: Sequence[Points],
    model: Model,
    paster: DevicePaster,
    strength: float,
    dtype: torch.dtype = torch.float32,
) -> list[Region | None]:
    """GFPGAN on every face (FFHQ-512 alignment, reflected border) as one batch, pasted with blend =
    `strength`. All crops come from the frame as it is before the first restored face is pasted (the CPU
    path aligns each face after pasting the one before: they differ only where two faces' crops overlap).
    The CPU path's finishing filters (denoise, sharpen, detail) are not applied here."""
    if len(points) == 0:
        return []
    if paster.crop_size != RESTORE_SIZE:
        raise ValueError(f"the restore paster must be for {RESTORE_SIZE}x{RESTORE_SIZE} crops")
    matrices = [ffhq_matrix(p) for p in points]
    crops = align_crops(frame, matrices, RESTORE_SIZE, "reflect101")
    restored = from_gfpgan_output(model(to_gfpgan_input(crops, dtype)))
    return paster.paste(frame, restored, matrices, blend=strength)
