"""Frame operations on a torch device: affine sampling of face crops and the conversions around the models.

The frame lives on the device as an H x W x 3 uint8 BGR tensor (app/core/torch_backend/transfer.py uploads
it); crops are N x 3 x S x S float32 BGR tensors holding 0..255, the same numbers as the uint8 crops of the
CPU path, in the channel-first layout the models take. Sampling is torch's affine_grid + grid_sample with
align_corners=True, which puts pixel centres at integer coordinates as OpenCV does; the normalisation is
folded into each matrix on the host (in float64). Padding "zeros" reads 0 tap by tap like BORDER_CONSTANT 0,
and "reflection" mirrors about the edge pixels' centres like BORDER_REFLECT_101, so a crop equals
cv2.warpAffine's within a level (OpenCV 5 interpolates in float like this; OpenCV 4's 1/32-pixel fixed point
differs by a level here and there). Plain torch ops only: CUDA, ROCm, MPS and CPU alike, no float64 on the
device (MPS has none), no host sync: matrices travel to the device with the work and nothing is read back.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import cv2
import numpy as np
import numpy.typing as npt
import torch
import torch.nn.functional as F

from app.core.types import Matrix

Border = Literal["constant", "reflect101"]
Matrices = Sequence[Matrix] | npt.NDArray[np.float64]
_PADDING = {"constant": "zeros", "reflect101": "reflection"}


def _to_normalised(size: int) -> npt.NDArray[np.float64]:
    """Pixel coordinate -> grid_sample's [-1, 1] (align_corners=True) for an axis of `size` pixels."""
    return np.array([2.0 / max(size - 1, 1), -1.0])


def sampling_grids(
    maps: npt.NDArray[np.float64], out_size: tuple[int, int], in_size: tuple[int, int], device: torch.device
) -> torch.Tensor:
    """grid_sample grids (N x H_out x W_out x 2) for N affine maps (N x 2 x 3, float64 on the host) that take
    an output pixel (x, y) to its source position in an input image; sizes are (height, width).

    Each grid point is computed from its own integer pixel coordinates only (not from a linspace over the
    output size, as affine_grid does), so a face's samples do not depend on how far a batch is padded."""
    h_out, w_out = out_size
    h_in, w_in = in_size
    sx, tx = _to_normalised(w_in)
    sy, ty = _to_normalised(h_in)
    theta = maps.reshape(-1, 2, 3) * np.array([[sx], [sy]])  # the normalisation folded in, in float64
    theta[:, 0, 2] += tx
    theta[:, 1, 2] += ty
    # Columns (N x 3 x 2): what x, y and 1 contribute to the (x, y) grid point; one upload for all faces.
    columns = torch.from_numpy(np.ascontiguousarray(theta.transpose(0, 2, 1), dtype=np.float32))
    c = columns.to(device, non_blocking=True).view(-1, 3, 1, 1, 2)
    u = torch.arange(w_out, device=device, dtype=torch.float32).view(1, w_out, 1)
    v = torch.arange(h_out, device=device, dtype=torch.float32).view(h_out, 1, 1)
    return torch.addcmul(torch.addcmul(c[:, 2], c[:, 0], u), c[:, 1], v)


def sample(images: torch.Tensor, grids: torch.Tensor, border: Border = "constant") -> torch.Tensor:
    """Bilinear samples of float `images` (N x C x H x W, or 1 x C x H x W shared by all grids) on `grids`
    (N x H_out x W_out x 2): N x C x H_out x W_out, unrounded."""
    n, h_out, w_out = grids.shape[:3]
    if images.shape[0] == 1 and n > 1:
        # One image for every grid: stack the grids vertically and sample once, without copying the image.
        out = F.grid_sample(images, grids.reshape(1, n * h_out, w_out, 2), mode="bilinear",
                            padding_mode=_PADDING[border], align_corners=True)
        return out.view(images.shape[1], n, h_out, w_out).transpose(0, 1)
    return F.grid_sample(images, grids, mode="bilinear", padding_mode=_PADDING[border], align_corners=True)


def inverse_matrices(matrices: Matrices) -> npt.NDArray[np.float64]:
    """The crop -> frame maps of frame -> crop matrices, inverted in float64 as cv2.warpAffine does."""
    return np.array([cv2.invertAffineTransform(np.asarray(m, dtype=np.float64)) for m in matrices],
                    dtype=np.float64).reshape(-1, 2, 3)


def _footprint(maps: npt.NDArray[np.float64], size: int, width: int, height: int) -> tuple[int, int, int, int]:
    """The part of the frame that the taps of size x size crops sampled through `maps` (crop -> frame) can
    read: the box of the mapped crop corners, grown by two pixels for the second tap and rounding, clipped."""
    last = size - 1.0
    corners = np.array([[0.0, 0.0, 1.0], [last, 0.0, 1.0], [0.0, last, 1.0], [last, last, 1.0]])
    pts = (maps @ corners.T).transpose(1, 0, 2).reshape(2, -1)  # (x, y) of every corner of every crop
    x0 = int(np.clip(np.floor(pts[0].min()) - 2, 0, width))
    y0 = int(np.clip(np.floor(pts[1].min()) - 2, 0, height))
    x1 = int(np.clip(np.floor(pts[0].max()) + 3, 0, width))
    y1 = int(np.clip(np.floor(pts[1].max()) + 3, 0, height))
    return x0, y0, x1, y1


def align_crops(frame: torch.Tensor, matrices: Matrices, size: int, border: Border = "constant") -> torch.Tensor:
    """The crops cv2.warpAffine(frame, matrix, (size, size), INTER_LINEAR) gives for each frame -> crop
    matrix: N x 3 x size x size float32 BGR holding whole numbers 0..255 (what the uint8 crop holds).

    `frame`: H x W x 3 on the device. "constant" is the swap crop's border (black, app/core/swap.py);
    "reflect101" the FFHQ restore crop's (app/core/restore.py). Only the part of the frame the crops read is
    converted to float: where they reach past the frame's edge that part ends at the edge, which keeps
    both borders exact (a reflection needs the whole frame there, and gets it)."""
    height, width = int(frame.shape[0]), int(frame.shape[1])
    if len(matrices) == 0:
        return torch.empty((0, 3, size, size), dtype=torch.float32, device=frame.device)
    maps = inverse_matrices(matrices)
    x0, y0, x1, y1 = _footprint(maps, size, width, height)
    at_edge = x0 == 0 or y0 == 0 or x1 == width or y1 == height
    # Mirrored taps may read anywhere near an edge, and a box under 2 px cannot be normalised (nor can one
    # outside the frame, where every tap is border): the whole frame then.
    if (border == "reflect101" and at_edge) or x1 - x0 < 2 or y1 - y0 < 2:
        x0, y0, x1, y1 = 0, 0, width, height
    maps = maps.copy()
    maps[:, 0, 2] -= x0
    maps[:, 1, 2] -= y0
    image = frame[y0:y1, x0:x1].permute(2, 0, 1).unsqueeze(0).to(torch.float32)
    grids = sampling_grids(maps, (size, size), (y1 - y0, x1 - x0), frame.device)
    return torch.round(sample(image, grids, border)).clamp_(0.0, 255.0)


def to_swapper_input(crops: torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """N x 3 x S x S RGB in [0, 1], what swap_crop feeds inswapper_128 (blobFromImage, swapRB, 1/255)."""
    return (crops.flip(1) * (1.0 / 255.0)).to(dtype).contiguous()


def from_swapper_output(output: torch.Tensor) -> torch.Tensor:
    """The swapper's N x 3 x S x S RGB [0, 1] as N x 3 x S x S BGR 0..255, truncated as swap_crop does."""
    return torch.floor(torch.clamp(255.0 * output.to(torch.float32), 0.0, 255.0)).flip(1)


def to_gfpgan_input(crops: torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """N x 3 x S x S RGB in [-1, 1], what run_gfpgan feeds GFPGAN."""
    return (crops.flip(1) * (1.0 / 127.5) - 1.0).to(dtype).contiguous()


def from_gfpgan_output(output: torch.Tensor) -> torch.Tensor:
    """GFPGAN's N x 3 x S x S RGB [-1, 1] as N x 3 x S x S BGR 0..255, rounded as run_gfpgan does."""
    return torch.floor(torch.clamp((output.to(torch.float32) + 1.0) * 127.5 + 0.5, 0.0, 255.0)).flip(1)
