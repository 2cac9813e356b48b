"""One upload per input frame and one download per output frame, with no host copy where it can be helped.

On CUDA (and ROCm, which presents itself as cuda) host frames live in page-locked memory from torch's
caching host allocator, so copies are DMA on the copy engine (non_blocking, on the current stream) and the
host does no memcpy:
- `host_frame()` hands out such a frame for the capture to decode into; uploading it is a DMA straight
  from it. A frame from anywhere else is first copied into a pinned one (one memcpy, ~0.4 ms at 1080p).
- a download lands in a fresh pinned frame that the returned array keeps alive; the allocator takes the
  memory back when the array is dropped, and never while a copy into or out of it is in flight (torch
  records the copy's stream event on the block), so there is no ring of buffers to outlive.
Elsewhere (MPS, CPU) plain copies: MPS memory is shared with the host, and pinning does not apply.

The uploaded tensor is always the caller's own (never a view of the numpy frame), so pasting into it leaves
the captured frame untouched for the tracker and the background detector.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import torch

Frame = npt.NDArray[np.uint8]


def _check(frame: Frame) -> None:
    if frame.dtype != np.uint8 or frame.ndim != 3:
        raise ValueError(f"a frame must be H x W x C uint8, got {frame.shape} {frame.dtype}")


def _pinned_tensor(frame: Frame) -> torch.Tensor | None:
    """The pinned tensor a host_frame() array views, or None. Copies must go through that tensor, not a
    from_numpy view of the array: only the allocator's own storage gets the copy's stream event that keeps
    the block from being handed out again while the copy reads it."""
    base = frame.base
    if (isinstance(base, torch.Tensor) and base.data_ptr() == frame.ctypes.data and base.is_contiguous()
            and tuple(base.shape) == frame.shape and base.dtype == torch.uint8 and base.is_pinned()):
        return base
    return None


class PendingDownload:
    """A download in flight; result() waits for it and returns the frame as an array the caller owns."""

    def __init__(self, host: torch.Tensor, event: Any = None) -> None:
        self._host = host
        self._event = event  # torch.cuda.Event recorded after the copy (CUDA only)

    def result(self) -> Frame:
        if self._event is not None:
            self._event.synchronize()
        return np.asarray(self._host.numpy(), dtype=np.uint8)  # the array keeps the (pinned) tensor alive


class FrameTransfer:
    """Moves frames (H x W x 3 uint8 BGR) between the host and `device`. Thread-safe (it holds no buffers)."""

    def __init__(self, device: torch.device | str) -> None:
        self.device = torch.device(device)
        self.pinned = self.device.type == "cuda"

    def host_frame(self, shape: tuple[int, int, int]) -> Frame:
        """An empty host frame that uploads without a host copy (pinned on CUDA): decode into it. Take a new
        one for every captured frame: the upload reads it after upload() returns, so it must not be written
        again until the device work after it was waited for (a download does). Dropped frames go back to
        torch's allocator, which hands the memory out again only once no copy reads it."""
        return np.asarray(torch.empty(shape, dtype=torch.uint8, pin_memory=self.pinned).numpy())

    def upload(self, frame: Frame) -> torch.Tensor:
        """The frame as a new H x W x 3 uint8 tensor on the device, ready for in-place pastes."""
        _check(frame)
        if self.device.type == "cpu":
            return torch.from_numpy(np.array(frame, order="C", copy=True))
        if self.pinned:
            own = _pinned_tensor(frame)
            if own is not None:  # a host_frame(): DMA straight from it
                return own.to(self.device, non_blocking=True)
            staging = torch.empty(frame.shape, dtype=torch.uint8, pin_memory=True)
            np.copyto(staging.numpy(), frame)
            return staging.to(self.device, non_blocking=True)
        # A read-only array (a cached photo) cannot back a tensor, even for a copy's sake.
        host_frame = frame if frame.flags.writeable else frame.copy()
        return torch.from_numpy(np.ascontiguousarray(host_frame)).to(self.device)

    def start_download(self, frame: torch.Tensor) -> PendingDownload:
        """Queue the copy of a device frame to the host after the work queued before it; returns at once."""
        if frame.device.type == "cpu":
            return PendingDownload(frame.contiguous())
        if not self.pinned:
            return PendingDownload(frame.to("cpu"))
        host = torch.empty(tuple(frame.shape), dtype=torch.uint8, pin_memory=True)
        host.copy_(frame, non_blocking=True)
        event = torch.cuda.Event()  # type: ignore[no-untyped-call]
        event.record()
        return PendingDownload(host, event)

    def download(self, frame: torch.Tensor) -> Frame:
        """The device frame as a numpy array (waits for the work queued before it). On the CPU device the
        array shares the tensor's memory: do not write into the tensor afterwards."""
        return self.start_download(frame).result()
