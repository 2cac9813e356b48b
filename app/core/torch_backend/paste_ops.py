"""Paste-back on the device: app/core/paste.py's FacePaster.paste, number for number, on a frame tensor.

The same feather mask, blend, colour correction (means and clipped gain inside the mask's opaque part), face
scale and region (the box the warped crop covers, clipped to the frame) as the CPU paste, with its 8-bit
roundings at the same steps: premultiplied crop and alpha, warped into the region, the background scaled by
one minus alpha, added with saturation. So a pasted frame equals the CPU's within a level, and every pixel
outside the touched regions is untouched (only region views of the frame are written).

Regions come from the matrices, which the host has anyway (the points are the tracker's), so no value is
read back from the device. The warp of all faces runs as one batch; the blends into the frame go face by
face, in order, so overlapping faces compose as on the CPU.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import torch

from app.core.paste import Region, crop_region, feather_mask, scaled_inverse
from app.core.torch_backend.frame_ops import Matrices, sample, sampling_grids


@dataclass(frozen=True)
class _Placement:
    index: int  # the face's position in the batch
    region: Region
    region_to_crop: np.ndarray  # 2x3: a pixel of the region (relative to its corner) -> crop coordinates


def _placements(matrices: Matrices, size: int, face_scale: float, frame_shape: tuple[int, ...]) -> list[_Placement]:
    out: list[_Placement] = []
    for i, matrix in enumerate(matrices):
        inv = scaled_inverse(np.asarray(matrix, dtype=np.float64), size, face_scale)
        region = crop_region(inv, size, frame_shape)
        if region is None:
            continue
        inv[0, 2] -= region[0]
        inv[1, 2] -= region[1]
        # cv2.warpAffine inverts its (crop -> region) matrix in float64 the same way before sampling.
        out.append(_Placement(i, region, cv2.invertAffineTransform(inv)))
    return out


def colour_matched(crops: torch.Tensor, references: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """match_colour for a batch (N x 3 x S x S): per face and channel, the crop's mean moved to the
    reference's and its spread scaled by the ratio of standard deviations clipped to [0.8, 1.25], over the
    pixels where the mask (N x S x S, 0..255) is at least 128; rounded and saturated like cv2.transform."""
    n = crops.shape[0]
    weight = (masks >= 128).to(torch.float32).unsqueeze(1).repeat(2, 1, 1, 1)  # 2N x 1 x S x S
    count = weight.sum(dim=(2, 3), keepdim=True).clamp_(min=1.0)  # an empty mask: 0 means, as meanStdDev
    both = torch.cat((references, crops))  # one pass of statistics for both
    mean = (both * weight).sum(dim=(2, 3), keepdim=True) / count
    std = torch.sqrt((torch.square(both - mean) * weight).sum(dim=(2, 3), keepdim=True) / count)
    mean_t, mean_s, std_t, std_s = mean[:n], mean[n:], std[:n], std[n:]
    gain = torch.clamp(std_t / torch.clamp(std_s, min=1.0), 0.8, 1.25)
    return torch.round(crops * gain + (mean_t - gain * mean_s)).clamp_(0.0, 255.0)


def _upload_mask(mask: np.ndarray, device: torch.device) -> torch.Tensor:
    return torch.from_numpy(mask.astype(np.float32)).to(device, non_blocking=True)


class DevicePaster:
    """Pastes crops of one size into device frames. Holds only its feather mask, already on the device."""

    def __init__(self, crop_size: int = 128, device: torch.device | str = "cpu") -> None:
        self.crop_size = crop_size
        self.device = torch.device(device)
        self.mask = _upload_mask(feather_mask(crop_size), self.device)

    def paste(
        self,
        frame: torch.Tensor,
        crops: torch.Tensor,
        matrices: Matrices,
        blend: float = 1.0,
        face_scale: float = 1.0,
        colour_references: torch.Tensor | None = None,
        masks: torch.Tensor | None = None,
    ) -> list[Region | None]:
        """Blend each of `crops` (N x 3 x S x S BGR 0..255 float, e.g. from_swapper_output) into `frame`
        (H x W x 3 uint8 on the device) in place, in order; returns the region each touched (None: none).

        `matrices`: each crop's frame -> crop matrix (the alignment's). `colour_references`: the original
        aligned crops (align_crops), to match each crop's colour to. `masks`: N x S x S per-face alpha in
        crop space (0..255, any dtype; e.g. a mouth or face-outline mask); None: the feathered box."""
        n, size = crops.shape[0], crops.shape[-1]
        if len(matrices) != n:
            raise ValueError(f"{n} crops but {len(matrices)} matrices")
        if masks is not None and tuple(masks.shape) != (n, size, size):
            raise ValueError(f"masks must be {n}x{size}x{size}, got {tuple(masks.shape)}")
        regions: list[Region | None] = [None] * n
        placements = _placements(matrices, size, face_scale, tuple(frame.shape))
        if blend <= 0.0 or not placements:
            return regions
        if masks is None:
            mask = self.mask if size == self.crop_size else _upload_mask(feather_mask(size), frame.device)
            masks_f = mask.to(torch.float32).expand(n, size, size)
        else:
            masks_f = masks.to(device=frame.device, dtype=torch.float32)
        crops = crops.to(torch.float32)
        if colour_references is not None:
            crops = colour_matched(crops, colour_references.to(torch.float32), masks_f)
        alpha = torch.round(masks_f * float(blend)).clamp_(0.0, 255.0) if blend < 1.0 else masks_f
        alpha = alpha.unsqueeze(1)
        premultiplied = torch.cat((torch.round(crops * alpha * (1.0 / 255.0)), alpha), dim=1)  # N x 4 x S x S
        if len(placements) < n:
            keep = torch.from_numpy(np.array([p.index for p in placements])).to(frame.device, non_blocking=True)
            premultiplied = premultiplied.index_select(0, keep)
        # All regions are sampled in one batch, padded to the largest; each blend reads its own part.
        height = max(p.region[3] - p.region[1] for p in placements)
        width = max(p.region[2] - p.region[0] for p in placements)
        maps = np.stack([p.region_to_crop for p in placements])
        grids = sampling_grids(maps, (height, width), (size, size), frame.device)
        warped = torch.round(sample(premultiplied, grids, "constant")).permute(0, 2, 3, 1)  # K x h x w x 4
        colour = warped[..., :3]
        keep = (255.0 - warped[..., 3:]) * (1.0 / 255.0)  # how much of the frame stays under each pixel
        for k, p in enumerate(placements):
            x0, y0, x1, y1 = p.region
            h, w = y1 - y0, x1 - x0
            roi = frame[y0:y1, x0:x1]
            background = torch.round(roi.to(torch.float32) * keep[k, :h, :w])
            roi.copy_(background.add_(colour[k, :h, :w]).clamp_(max=255.0))  # whole numbers: the cast is exact
            regions[p.index] = p.region
        return regions
