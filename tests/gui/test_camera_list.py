"""The camera list (app/live/cameras.py) over a fake /dev and /sys tree: numeric order, no metadata nodes,
no v4l2loopback outputs (the app's own virtual camera must not be offered as its input)."""

from __future__ import annotations

from pathlib import Path

from app.live.cameras import _linux_cameras


def fake_device(dev: Path, sys_root: Path, devices: Path, index: int, name: str, node: int = 0,
                virtual: bool = False) -> None:
    (dev / f"video{index}").touch()
    real = devices / ("virtual" if virtual else "pci0000:00/usb1") / "video4linux" / f"video{index}"
    real.mkdir(parents=True)
    (real / "name").write_text(name + "\n")
    (real / "index").write_text(f"{node}\n")
    (sys_root / f"video{index}").symlink_to(real)  # as the kernel links /sys/class/video4linux/videoN


def test_cameras_in_numeric_order_without_metadata_nodes_or_loopback_devices(tmp_path: Path) -> None:
    dev, sys_root, devices = tmp_path / "dev", tmp_path / "sys/class/video4linux", tmp_path / "sys/devices"
    dev.mkdir()
    sys_root.mkdir(parents=True)
    (dev / "video-not-a-node").touch()
    fake_device(dev, sys_root, devices, 10, "USB Camera B")
    fake_device(dev, sys_root, devices, 2, "USB Camera A")
    fake_device(dev, sys_root, devices, 3, "USB Camera A", node=1)  # its metadata node
    fake_device(dev, sys_root, devices, 0, "Integrated Webcam")
    fake_device(dev, sys_root, devices, 4, "Dummy video device (0x0000)", virtual=True)  # v4l2loopback default
    fake_device(dev, sys_root, devices, 5, "OBS Virtual Camera", virtual=True)
    fake_device(dev, sys_root, devices, 6, "Deep Live Cam", virtual=True)  # the card label the app suggests
    fake_device(dev, sys_root, devices, 7, "Capture Card")  # real hardware...
    fake_device(dev, sys_root, devices, 8, "Custom label", virtual=True)  # ...a loopback device with any label
    (dev / "video11").touch()  # no /sys entry: still listed, with a generic name

    cameras = _linux_cameras(dev, sys_root)
    assert [(c.index, c.label) for c in cameras] == [
        (0, "Integrated Webcam (0)"),
        (2, "USB Camera A (2)"),
        (7, "Capture Card (7)"),
        (10, "USB Camera B (10)"),
        (11, "Camera (11)"),
    ]
