"""Which cameras are present. Probing can take a second per index, so callers run it off the UI thread."""

from __future__ import annotations

import glob
import logging
import platform
import re
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CameraEntry:
    index: int
    label: str


def _linux_cameras() -> list[CameraEntry]:
    found = []
    for dev in sorted(glob.glob("/dev/video*")):
        m = re.fullmatch(r"/dev/video(\d+)", dev)
        if not m:
            continue
        index = int(m.group(1))
        name_file = Path(f"/sys/class/video4linux/video{index}/name")
        try:
            name = name_file.read_text().strip()
        except OSError:
            name = ""
        # A v4l2 device node may be a metadata node; index 0 of each device is the one that captures.
        index_file = Path(f"/sys/class/video4linux/video{index}/index")
        try:
            if int(index_file.read_text().strip()) != 0:
                continue
        except (OSError, ValueError):
            pass
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
