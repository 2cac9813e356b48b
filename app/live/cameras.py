"""Which cameras are present. Probing can take a second per index, so callers run it off the UI thread."""

from __future__ import annotations

import logging
import platform
import re
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

DEV = Path("/dev")
SYS_VIDEO4LINUX = Path("/sys/class/video4linux")
# Names v4l2loopback devices carry: virtual cameras (this app's own output among them), not inputs.
LOOPBACK_NAMES = ("dummy video device", "obs virtual camera", "v4l2loopback", "deep live cam")


@dataclass(frozen=True)
class CameraEntry:
    index: int
    label: str


def _read(path: Path) -> str:
    try:
        return path.read_text().strip()
    except OSError:
        return ""


def _is_loopback(sys_dir: Path, name: str) -> bool:
    """A v4l2loopback device: by its name, or because it has no hardware under it (the kernel puts such
    devices under /sys/devices/virtual)."""
    if any(n in name.lower() for n in LOOPBACK_NAMES):
        return True
    try:
        parts = sys_dir.resolve().parts
    except OSError:
        return False
    return any(parts[i:i + 2] == ("devices", "virtual") for i in range(len(parts) - 1))


def _linux_cameras(dev: Path = DEV, sys_root: Path = SYS_VIDEO4LINUX) -> list[CameraEntry]:
    """The capture devices among /dev/videoN in index order (video2 before video10), without metadata nodes
    and without v4l2loopback outputs, so the app's own virtual camera is never offered as its input."""
    indices = sorted(int(m.group(1)) for p in dev.glob("video*") if (m := re.fullmatch(r"video(\d+)", p.name)))
    found = []
    for index in indices:
        sys_dir = sys_root / f"video{index}"
        name = _read(sys_dir / "name")
        # A v4l2 device node may be a metadata node; index 0 of each device is the one that captures.
        node = _read(sys_dir / "index")
        if node.isdigit() and int(node) != 0:
            continue
        if _is_loopback(sys_dir, name):
            log.debug("video%d (%s) is a virtual camera, not offered as an input", index, name)
            continue
        found.append(CameraEntry(index, f"{name or 'Camera'} ({index})"))
    return found


def _probe_cameras(max_index: int) -> list[CameraEntry]:
    import cv2

    found = []
    for index in range(max_index):
        cap = cv2.VideoCapture(index)
        try:
            if cap.isOpened():
                found.append(CameraEntry(index, f"Camera {index}"))
        finally:
            cap.release()
    return found


def list_cameras(max_index: int = 4) -> list[CameraEntry]:
    """The cameras present: v4l2 device nodes on Linux (no device is opened), else a probe of a few indices."""
    try:
        if platform.system() == "Linux":
            return _linux_cameras()
        return _probe_cameras(max_index)
    except Exception:  # a broken driver must not stop the window from opening
        log.exception("listing cameras failed")
        return []
