"""Frame operations on a torch device: affine sampling of face crops and the conversions around the models.

The frame lives on the device as an H x W x 3 uint8 BGR tensor (app/core/torch_backend/transfer.py uploads
it); crops are N x S x S x 3 float32 BGR tensors holding 0..255, the same numbers as the uint8 crops of the
CPU path. Sampling is a gather of the four bilinear taps with OpenCV's conventions (pixel centres at integer
coordinates, the destination->source map being the inverse of the frame->crop matrix, BORDER_CONSTANT 0 or
BORDER_REFLECT_101), so a crop equals cv2.warpAffine's within a level (OpenCV 5 interpolates in float like
this; OpenCV 4's 1/32-pixel fixed point differs by a level here and there). Plain torch ops only: CUDA,
ROCm, MPS and CPU alike, no float64 (MPS has none), no host sync: matrices travel to the device with the
work, and nothing reads a device value back.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import cv2
import numpy as np
import numpy.typing as npt
import torch

from app.core.types import Matrix

Border = Literal["constant", "reflect101"]
Matrices = Sequence[Matrix] | npt.NDArray[np.float64]


def _reflect101(index: torch.Tensor, length: int) -> torch.Tensor:
    """OpenCV's BORDER_REFLECT_101 (gfedcb|abcdefgh|gfedcba) for any distance outside."""
    if length == 1:
        return torch.zeros_like(index)
    period = 2 * (length - 1)
    index = torch.remainder(index, period)
    return torch.where(index >= length, period - index, index)


def sample_bilinear(
    images: torch.Tensor, x: torch.Tensor, y: torch.Tensor, border: Border = "constant"
) -> torch.Tensor:
    """Bilinear samples of `images` (B x H x W x C, any dtype) at pixel coordinates `x`, `y` (float32, both
    B x ...; with B == 1 every row samples the one image). Returns (B x ... x C) float32, unrounded.

    Outside the image, taps read 0 ("constant") or the mirrored pixel ("reflect101"), as OpenCV's remap does
    tap by tap."""
    b, h, w, c = images.shape
    flat = images.reshape(b * h * w, c)
    x0f, y0f = torch.floor(x), torch.floor(y)
    fx, fy = (x - x0f).unsqueeze(-1), (y - y0f).unsqueeze(-1)
    x0, y0 = x0f.to(torch.int64), y0f.to(torch.int64)
    base: torch.Tensor | int = 0
    if b > 1:
        base = (torch.arange(b, device=images.device, dtype=torch.int64) * (h * w)).view(b, *([1] * (x.dim() - 1)))

    def tap(xi: torch.Tensor, yi: torch.Tensor) -> torch.Tensor:
        if border == "constant":
            inside = ((xi >= 0) & (xi < w) & (yi >= 0) & (yi < h)).unsqueeze(-1)
            xi, yi = xi.clamp(0, w - 1), yi.clamp(0, h - 1)
        else:
            xi, yi = _reflect101(xi, w), _reflect101(yi, h)
        index = (base + yi * w + xi).reshape(-1)
        values = flat.index_select(0, index).reshape(*x.shape, c).to(torch.float32)
        return values * inside if border == "constant" else values

    top = tap(x0, y0) * (1.0 - fx) + tap(x0 + 1, y0) * fx
    bottom = tap(x0, y0 + 1) * (1.0 - fx) + tap(x0 + 1, y0 + 1) * fx
    return top * (1.0 - fy) + bottom * fy


def affine_coordinates(
    maps: torch.Tensor, height: int, width: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Source coordinates of every pixel of N destination images of height x width, where `maps` (N x 2 x 3
    float32 on the device) takes a destination pixel to its source position."""
    device = maps.device
    u = torch.arange(width, device=device, dtype=torch.float32).view(1, 1, width)
    v = torch.arange(height, device=device, dtype=torch.float32).view(1, height, 1)
    m = maps.view(-1, 2, 3, 1, 1)
    x = m[:, 0, 0] * u + m[:, 0, 1] * v + m[:, 0, 2]
    y = m[:, 1, 0] * u + m[:, 1, 1] * v + m[:, 1, 2]
    return x, y


def matrices_to_device(matrices: Sequence[Matrix] | npt.NDArray[np.float64], device: torch.device) -> torch.Tensor:
    """N 2x3 float64 matrices as one N x 2 x 3 float32 tensor on `device` (one small copy, no sync)."""
    stacked = np.ascontiguousarray(np.asarray(matrices, dtype=np.float32).reshape(-1, 2, 3))
    return torch.from_numpy(stacked).to(device, non_blocking=True)


def inverse_matrices(matrices: Matrices) -> npt.NDArray[np.float64]:
    """The crop -> frame maps of frame -> crop matrices, inverted in float64 as cv2.warpAffine does."""
    return np.array([cv2.invertAffineTransform(np.asarray(m, dtype=np.float64)) for m in matrices],
                    dtype=np.float64).reshape(-1, 2, 3)


def align_crops(frame: torch.Tensor, matrices: Matrices, size: int, border: Border = "constant") -> torch.Tensor:
    """The crops cv2.warpAffine(frame, matrix, (size, size), INTER_LINEAR) gives for each frame -> crop
    matrix: N x size x size x 3 float32 BGR holding whole numbers 0..255 (what the uint8 crop holds).

    `frame`: H x W x 3 on the device. "constant" is the swap crop's border (black, app/core/swap.py);
    "reflect101" the FFHQ restore crop's (app/core/restore.py)."""
    if len(matrices) == 0:
        return torch.empty((0, size, size, 3), dtype=torch.float32, device=frame.device)
    maps = matrices_to_device(inverse_matrices(matrices), frame.device)
    x, y = affine_coordinates(maps, size, size)
    crops = sample_bilinear(frame.unsqueeze(0), x, y, border)
    return torch.round(crops).clamp_(0.0, 255.0)


def to_swapper_input(crops: torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """N x 3 x S x S RGB in [0, 1], what swap_crop feeds inswapper_128 (blobFromImage, swapRB, 1/255)."""
    return (crops.flip(-1).permute(0, 3, 1, 2) * (1.0 / 255.0)).contiguous().to(dtype)


def from_swapper_output(output: torch.Tensor) -> torch.Tensor:
    """The swapper's N x 3 x S x S RGB [0, 1] as N x S x S x 3 BGR 0..255, truncated as swap_crop does."""
    rgb = output.to(torch.float32).permute(0, 2, 3, 1)
    return torch.floor(torch.clamp(255.0 * rgb, 0.0, 255.0)).flip(-1)


def to_gfpgan_input(crops: torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """N x 3 x S x S RGB in [-1, 1], what run_gfpgan feeds GFPGAN."""
    return (crops.flip(-1).permute(0, 3, 1, 2) * (1.0 / 127.5) - 1.0).contiguous().to(dtype)


def from_gfpgan_output(output: torch.Tensor) -> torch.Tensor:
    """GFPGAN's N x 3 x S x S RGB [-1, 1] as N x S x S x 3 BGR 0..255, rounded as run_gfpgan does."""
    rgb = output.to(torch.float32).permute(0, 2, 3, 1)
    return torch.floor(torch.clamp((rgb + 1.0) * 127.5 + 0.5, 0.0, 255.0)).flip(-1)
