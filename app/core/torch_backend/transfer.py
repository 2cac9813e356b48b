"""One upload per input frame and one download per output frame.

On CUDA (and ROCm, which presents itself as cuda) both go through page-locked staging buffers with
non_blocking copies on the current stream, so the host pays only a memcpy into (or out of) pinned memory
and the DMA runs on the copy engine while the host goes on. A small ring of buffers, each guarded by an
event, keeps a buffer from being refilled while its last copy may still be in flight. Elsewhere (MPS, CPU)
plain copies: MPS memory is shared with the host, and pinning does not apply.

The uploaded tensor is always the caller's own (never a view of the numpy frame), so pasting into it leaves
the captured frame untouched for the tracker and the background detector.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import torch

Frame = npt.NDArray[np.uint8]


@dataclass
class _Staging:
    host: torch.Tensor  # pinned on CUDA
    event: Any = None  # torch.cuda.Event recorded after the last copy that used `host` (CUDA only)
    uses: int = 0  # how many copies have used `host`: a pending download checks that it is still its own


class _Ring:
    """Staging buffers of one shape, used in turn."""

    def __init__(self, slots: int, pin: bool) -> None:
        if slots < 1:
            raise ValueError("a staging ring needs at least one slot")
        self._slots = slots
        self._pin = pin
        self._buffers: list[_Staging] = []
        self._next = 0
        self._shape: tuple[int, ...] = ()

    def take(self, shape: tuple[int, ...]) -> _Staging:
        if shape != self._shape:
            buffers = [torch.empty(shape, dtype=torch.uint8) for _ in range(self._slots)]
            self._buffers = [_Staging(b.pin_memory() if self._pin else b) for b in buffers]
            self._shape, self._next = shape, 0
        staging = self._buffers[self._next]
        self._next = (self._next + 1) % self._slots
        if staging.event is not None:
            staging.event.synchronize()  # the copy from `slots` frames ago: long done, so no real wait
        staging.uses += 1
        return staging


def _record(staging: _Staging, device: torch.device) -> None:
    if device.type == "cuda":
        if staging.event is None:
            staging.event = torch.cuda.Event()  # type: ignore[no-untyped-call]
        staging.event.record()


class PendingDownload:
    """A download in flight; result() waits for it and returns the frame as an array the caller owns.
    Take the result before `slots` further downloads start: their staging buffers are reused in turn."""

    def __init__(self, staging: _Staging | None, value: torch.Tensor) -> None:
        self._staging = staging
        self._use = staging.uses if staging is not None else 0
        self._value = value  # the device frame stays alive until its copy is done

    def result(self) -> Frame:
        if self._staging is None:
            return np.asarray(self._value.numpy(), dtype=np.uint8)
        if self._staging.uses != self._use:
            raise RuntimeError("download result taken too late: its staging buffer was reused")
        if self._staging.event is not None:
            self._staging.event.synchronize()
        return np.array(self._staging.host.numpy(), dtype=np.uint8, copy=True)


class FrameTransfer:
    """Moves frames (H x W x 3 uint8 BGR) between the host and `device`. One per worker thread.

    `staged`: copy through the ring of staging buffers (default: on CUDA, where they are pinned)."""

    def __init__(self, device: torch.device | str, slots: int = 2, staged: bool | None = None) -> None:
        self.device = torch.device(device)
        pinned = self.device.type == "cuda"
        self.staged = pinned if staged is None else staged
        self._uploads = _Ring(slots, pinned)
        self._downloads = _Ring(slots, pinned)

    def upload(self, frame: Frame) -> torch.Tensor:
        """The frame as a new H x W x 3 uint8 tensor on the device, ready for in-place pastes."""
        if frame.dtype != np.uint8 or frame.ndim != 3:
            raise ValueError(f"a frame must be H x W x C uint8, got {frame.shape} {frame.dtype}")
        if not self.staged:
            if self.device.type == "cpu":
                return torch.from_numpy(np.array(frame, order="C", copy=True))
            # A read-only array (a cached photo) cannot back a tensor, even for a copy's sake.
            host = frame if frame.flags.writeable else frame.copy()
            return torch.from_numpy(np.ascontiguousarray(host)).to(self.device)
        staging = self._uploads.take(tuple(frame.shape))
        np.copyto(staging.host.numpy(), frame)
        out = torch.empty(tuple(frame.shape), dtype=torch.uint8, device=self.device)
        out.copy_(staging.host, non_blocking=True)
        _record(staging, self.device)
        return out

    def start_download(self, frame: torch.Tensor) -> PendingDownload:
        """Queue the copy of a device frame to the host after the work queued before it; returns at once."""
        if not self.staged:
            host = frame.contiguous() if frame.device.type == "cpu" else frame.to("cpu")
            return PendingDownload(None, host)
        staging = self._downloads.take(tuple(frame.shape))
        staging.host.copy_(frame, non_blocking=True)
        _record(staging, self.device)
        return PendingDownload(staging, frame)

    def download(self, frame: torch.Tensor) -> Frame:
        """The device frame as a numpy array (waits for the work queued before it). Unstaged on the CPU
        device the array shares the tensor's memory: do not write into the tensor afterwards."""
        return self.start_download(frame).result()
