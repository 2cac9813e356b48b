"""Fixtures shared by every test folder."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from tests.standins import TrackingScene

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture(scope="session")
def standin_models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A models folder laid out like the real one, with stand-in files (see tests/standins):
    inswapper_128.onnx, buffalo_l/det_10g.onnx (planted with t1.jpg, astronaut and Tom Hanks at det size 640),
    buffalo_l/w600k_r50.onnx, buffalo_l/2d106det.onnx, GFPGANv1.4.onnx. Treat it as read-only."""
    from tests.standins import build_models_dir

    return build_models_dir(tmp_path_factory.mktemp("models"))


@pytest.fixture(scope="session")
def standin_tracking(tmp_path_factory: pytest.TempPathFactory) -> TrackingScene:
    """A det_10g-shaped detector that follows content, and 640x360 frames panning over t1.jpg
    (`frame(dx, dy)` gives a frame and its true faces)."""
    from tests.standins import build_tracking_scene

    return build_tracking_scene(tmp_path_factory.mktemp("standin_tracking") / "det_10g.onnx")


@pytest.fixture
def fake_virtual_camera(monkeypatch: pytest.MonkeyPatch) -> type:
    """pyvirtualcam with one backend, `fake`, that records frames (FakeVirtualCamera.instances)."""
    from pyvirtualcam import camera as pvc_camera

    from tests.live.fakes import FakeVirtualCamera

    monkeypatch.setattr(pvc_camera, "BACKENDS", {"fake": FakeVirtualCamera})
    FakeVirtualCamera.instances.clear()
    return FakeVirtualCamera


@pytest.fixture
def no_virtual_camera(monkeypatch: pytest.MonkeyPatch) -> None:
    """pyvirtualcam whose only backend finds no device."""
    from pyvirtualcam import camera as pvc_camera

    from tests.live.fakes import MissingVirtualCamera

    monkeypatch.setattr(pvc_camera, "BACKENDS", {"v4l2loopback": MissingVirtualCamera})


@pytest.fixture(scope="session")
def photo_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The real photos as PNG files (t1, astronaut, tom_hanks), a blank one, and a text file named .jpg."""
    import cv2

    from tests.standins import photos

    root = tmp_path_factory.mktemp("photos")
    paths = {}
    for scene in photos.all_scenes():
        paths[scene.name] = root / f"{scene.name}.png"
        cv2.imwrite(str(paths[scene.name]), scene.image)
    paths["blank"] = root / "blank.png"
    cv2.imwrite(str(paths["blank"]), photos.blank())
    paths["text"] = root / "notes.jpg"
    paths["text"].write_text("this is not an image")
    return paths


@pytest.fixture(scope="session")
def conv_inswapper_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The convolutional inswapper stand-in (tests/standins/conv_inswapper.py), built once. Copy it; never
    write beside it."""
    from tests.standins.conv_inswapper import build_conv_inswapper

    return build_conv_inswapper(tmp_path_factory.mktemp("conv_inswapper") / "inswapper_128.onnx")


@pytest.fixture
def int8_models_dir(tmp_path: Path, standin_models_dir: Path, conv_inswapper_file: Path) -> Path:
    """A fresh models folder for int8 builds: a copy of the convolutional inswapper stand-in and links to the
    stand-in detector (planted with the shipped photos) and recognizer."""
    import shutil

    root = tmp_path / "models"
    (root / "buffalo_l").mkdir(parents=True)
    for rel in ("buffalo_l/det_10g.onnx", "buffalo_l/w600k_r50.onnx"):
        (root / rel).symlink_to(standin_models_dir / rel)
    shutil.copyfile(conv_inswapper_file, root / "inswapper_128.onnx")
    return root


@pytest.fixture(scope="session")
def ray_local() -> Iterator[object]:
    """One local Ray instance (2 CPUs) for the whole session, started through the app's own `connect`.
    Its workers get this checkout on their path, so test-only processor factories unpickle there."""
    import ray

    from app.cluster import connect

    root = str(Path(__file__).resolve().parents[1])
    paths = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    os.environ["PYTHONPATH"] = os.pathsep.join([root, *[p for p in paths if p != root]])
    if ray.is_initialized():
        ray.shutdown()
    connect(None, num_cpus=2)
    yield ray
    from ray import serve

    serve.shutdown()
    ray.shutdown()
