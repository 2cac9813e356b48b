"""The int8 swapper: a real static QDQ build of the stand-in inswappers, its quality measured against fp32 on
held-back faces, the cache keyed by the source file's hash, atomic writes, and refusal below the bound."""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from app.core import int8 as int8_mod
from app.core.int8 import int8_path, int8_status, int8_swapper, report_path
from app.core.int8_build import build_int8_swapper
from app.core.int8_calibration import collect_faces, shipped_photos, split
from app.core.int8_quantize import load_source, psnr, session, to_pixels
from app.core.int8_report import Int8Report
from app.core.sessions import ModelSet
from app.core.swap import align_crop, swap_crop
from app.errors import Cancelled, InputError, ModelError, NoFaceError, OutputError
from app.models.status import sha256_file
from tests.standins import build_inswapper, photos
from tests.standins.conv_inswapper import build_conv_inswapper

SOURCE = "inswapper_128.onnx"


def finished_files(folder: Path) -> list[str]:
    """Every int8 build file in `folder`, finished or not (hidden temporary files included)."""
    return sorted(p.name for p in folder.iterdir() if ".int8." in p.name)


def initializer(model: onnx.ModelProto, index: int) -> np.ndarray:
    return numpy_helper.to_array(model.graph.initializer[index])


def test_shipped_photos_are_found() -> None:
    names = [p.name for p in shipped_photos()]
    assert names == ["t1.jpg", "Tom_Hanks_54745.png", "astronaut.png"]


def test_conv_standin_is_quantised_for_real_and_its_report_is_measured(int8_models_dir: Path) -> None:
    source = int8_models_dir / SOURCE
    stages: list[str] = []
    report = build_int8_swapper(int8_models_dir, progress=lambda stage, done, total: stages.append(stage) or True)

    path = int8_models_dir / report.model
    assert path == int8_path(source, sha256_file(source)) and path.name.endswith(".int8.onnx")
    assert report_path(path).is_file() and report.enabled
    assert {"calibrating", "checking quality"} <= set(stages) and any(s.startswith("finding faces") for s in stages)
    # Six shipped faces of t1, Tom Hanks and the astronaut: every third (with its mirror image) held back.
    assert report.held_out_faces == ("t1.jpg#2", "t1.jpg#2 mirrored", "t1.jpg#5", "t1.jpg#5 mirrored",
                                     "astronaut.png#1", "astronaut.png#1 mirrored")
    assert len(report.calibration_faces) == 10 and not set(report.calibration_faces) & set(report.held_out_faces)

    # A real QDQ graph: int8 convolution weights, Q/DQ pairs, and the emap back as the last initializer.
    model = onnx.load(str(path))
    ops = [n.op_type for n in model.graph.node]
    assert ops.count("QuantizeLinear") >= 8 and ops.count("DequantizeLinear") >= 16
    assert any(t.data_type == onnx.TensorProto.INT8 and len(t.dims) == 4 for t in model.graph.initializer)
    assert model.graph.initializer[-1].name == "emap"
    assert np.array_equal(initializer(model, -1), initializer(onnx.load(str(source)), -1))

    # The report's numbers, recomputed here from the same held-back faces.
    models = ModelSet(int8_models_dir, ["CPUExecutionProvider"])
    faces = split(collect_faces(models, load_source(source).emap, []))
    fp32, q8 = session(source), session(path)
    errors = [to_pixels(fp32.run(["output"], f)[0]).astype(int) - to_pixels(q8.run(["output"], f)[0]).astype(int)
              for f in faces.held_out]
    all_errors = np.stack(errors)
    q = report.quality
    assert q.faces == 6 and q.worst_pixel_error == int(np.abs(all_errors).max()) > 0
    assert q.psnr_db == pytest.approx(psnr(float(np.mean(np.square(all_errors)))), abs=0.01)
    assert q.worst_face_psnr_db == pytest.approx(min(psnr(float(np.mean(np.square(e)))) for e in errors), abs=0.01)
    assert 30.0 < q.worst_face_psnr_db <= q.psnr_db < 60.0  # int8 rounding: close to fp32, not identical

    # The saved report says the same, and the file loads as insightface's INSwapper with the same emap.
    assert Int8Report.from_json(json.loads(report_path(path).read_text())) == report
    from insightface import model_zoo

    with contextlib.redirect_stdout(io.StringIO()):
        swapper = model_zoo.get_model(str(int8_swapper(int8_models_dir)), providers=["CPUExecutionProvider"])
    assert type(swapper).__name__ == "INSwapper"
    assert np.array_equal(swapper.emap, initializer(model, -1))
    scene = photos.astronaut()
    crop, _ = align_crop(scene.image, scene.faces[0].points, 128)
    latent = np.asarray(faces.held_out[0]["source"])
    swapped = swap_crop(swapper, crop, latent)
    assert swapped.shape == (128, 128, 3) and swapped.dtype == np.uint8


def test_tiny_standin_is_quantised_too(int8_models_dir: Path) -> None:
    """The element-wise stand-in: its MatMul is quantised; nearly exact, and the emap still comes last.
    (Also: hidden temporary files of killed builds are removed once they are old, never a fresh one.)"""
    build_inswapper(int8_models_dir / SOURCE)
    old = int8_models_dir / ".inswapper_128.0123456789ab.int8.onnx.deadbeef.part"
    fresh = int8_models_dir / ".inswapper_128.0123456789ab.int8.onnx.cafef00d.part"
    for leftover in (old, fresh):
        leftover.write_bytes(b"half a model")
    os.utime(old, (1e9, 1e9))
    report = build_int8_swapper(int8_models_dir)
    assert not old.exists() and fresh.exists()
    model = onnx.load(str(int8_models_dir / report.model))
    assert "DequantizeLinear" in [n.op_type for n in model.graph.node]
    assert model.graph.initializer[-1].name == "emap"
    assert report.enabled and report.quality.worst_face_psnr_db > 40.0


def test_user_photos_calibrate_and_are_never_held_back(int8_models_dir: Path, photo_files: dict[str, Path]) -> None:
    report = build_int8_swapper(int8_models_dir, [photo_files["astronaut"]])
    assert report.user_photos == (str(photo_files["astronaut"]),)
    assert "source astronaut.png#1" in report.calibration_faces
    assert "source astronaut.png#1 mirrored" in report.calibration_faces
    assert not any(label.startswith("source") for label in report.held_out_faces)
    assert len(report.calibration_faces) == 12


def test_below_the_bound_it_is_kept_but_not_enabled(int8_models_dir: Path) -> None:
    report = build_int8_swapper(int8_models_dir, min_psnr_db=80.0)
    assert not report.enabled and report.bound_db == 80.0
    assert "NOT enabled" in report.summary() and "80 dB" in report.summary()
    status = int8_status(int8_models_dir)
    assert status.state == "rejected" and status.path == int8_models_dir / report.model and status.path.is_file()
    with pytest.raises(ModelError, match="below the 80 dB bound.*calibrated on your own photos") as err:
        int8_swapper(int8_models_dir)
    assert err.value.fix == "calibrate" and err.value.fetch is None  # each front end words how


def test_the_cache_is_keyed_by_the_source_files_hash(int8_models_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = int8_models_dir / SOURCE
    assert int8_status(int8_models_dir).state == "not-built"
    with pytest.raises(ModelError, match="no int8 swapper has been built") as err:
        int8_swapper(int8_models_dir)
    assert err.value.fix == "build"
    first = build_int8_swapper(int8_models_dir)
    assert first.model == f"inswapper_128.{sha256_file(source)[:12]}.int8.onnx"

    # Later starts read the report without hashing the source while its size and time are unchanged...
    def no_hashing(*args: object, **kwargs: object) -> str:
        raise AssertionError("hashed again")

    with monkeypatch.context() as m:
        m.setattr(int8_mod, "sha256_file", no_hashing)
        assert int8_swapper(int8_models_dir) == int8_models_dir / first.model
    # ... hash once when the time changed (same content: still ready), and remember the new time.
    st = source.stat()
    os.utime(source, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    assert int8_status(int8_models_dir).state == "ready"
    with monkeypatch.context() as m:
        m.setattr(int8_mod, "sha256_file", no_hashing)
        assert int8_status(int8_models_dir).state == "ready"

    # Another source file: the old build is not used, a new one gets a new name, the old one goes.
    build_conv_inswapper(source, seed=7)
    status = int8_status(int8_models_dir)
    assert status.state == "stale" and "changed" in status.message
    with pytest.raises(ModelError, match="changed since.*built again"):
        int8_swapper(int8_models_dir)
    second = build_int8_swapper(int8_models_dir)
    assert second.model != first.model and second.source_sha256 == sha256_file(source)
    assert finished_files(int8_models_dir) == sorted([second.model, report_path(Path(second.model)).name])
    assert int8_swapper(int8_models_dir) == int8_models_dir / second.model


@pytest.mark.parametrize("stage", ["reading", "finding faces", "calibrating", "checking quality"])
def test_a_cancelled_build_leaves_nothing(int8_models_dir: Path, stage: str) -> None:
    def progress(name: str, done: int, total: int) -> bool:
        return not name.startswith(stage)

    with pytest.raises(Cancelled):
        build_int8_swapper(int8_models_dir, progress=progress)
    assert finished_files(int8_models_dir) == []
    assert [p.name for p in int8_models_dir.iterdir() if p.name.startswith(".")] == []
    assert int8_status(int8_models_dir).state == "not-built"


def test_a_cancelled_rebuild_keeps_the_finished_build(int8_models_dir: Path) -> None:
    first = build_int8_swapper(int8_models_dir)
    before = (int8_models_dir / first.model).read_bytes()
    with pytest.raises(Cancelled):
        build_int8_swapper(int8_models_dir, progress=lambda name, done, total: name != "checking quality")
    assert (int8_models_dir / first.model).read_bytes() == before
    assert int8_status(int8_models_dir).state == "ready"


def test_a_model_without_its_report_is_not_used(int8_models_dir: Path) -> None:
    """What a crash between the model's rename and the report's write would leave."""
    report = build_int8_swapper(int8_models_dir)
    report_path(int8_models_dir / report.model).unlink()
    status = int8_status(int8_models_dir)
    assert status.state == "not-built" and "did not finish" in status.message
    with pytest.raises(ModelError):
        int8_swapper(int8_models_dir)


def test_a_damaged_build_or_report_is_not_used(int8_models_dir: Path) -> None:
    report = build_int8_swapper(int8_models_dir)
    path = int8_models_dir / report.model
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    assert int8_status(int8_models_dir).state == "not-built"
    path.write_bytes(data)
    assert int8_status(int8_models_dir).state == "ready"
    report_path(path).write_text("{not json")
    assert int8_status(int8_models_dir).state == "stale"  # an unreadable report vouches for nothing


def test_errors_name_the_problem(int8_models_dir: Path, photo_files: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(InputError, match="notes.jpg"):
        build_int8_swapper(int8_models_dir, [photo_files["text"]])
    with pytest.raises(NoFaceError, match="blank.png"):
        build_int8_swapper(int8_models_dir, [photo_files["blank"]])
    assert finished_files(int8_models_dir) == []

    (int8_models_dir / "buffalo_l" / "det_10g.onnx").unlink()
    with pytest.raises(ModelError, match="det_10g.onnx"):
        build_int8_swapper(int8_models_dir)

    empty = tmp_path / "empty"
    empty.mkdir()
    assert int8_status(empty).state == "no-model"
    with pytest.raises(ModelError, match="inswapper_128.onnx"):
        build_int8_swapper(empty)
    with pytest.raises(ModelError, match="inswapper_128.onnx is missing"):
        int8_swapper(empty)


def test_a_file_that_is_not_an_inswapper_is_refused(int8_models_dir: Path) -> None:
    shutil.copyfile(int8_models_dir / "buffalo_l" / "w600k_r50.onnx", int8_models_dir / SOURCE)
    with pytest.raises(ModelError, match="not an inswapper_128"):
        build_int8_swapper(int8_models_dir)
    (int8_models_dir / SOURCE).write_bytes(b"not a model")
    with pytest.raises(ModelError, match="cannot be read as an ONNX model"):
        build_int8_swapper(int8_models_dir)


def test_a_read_only_models_folder_is_an_output_error(int8_models_dir: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root writes into read-only folders")
    int8_models_dir.chmod(0o555)
    try:
        with pytest.raises(OutputError):
            build_int8_swapper(int8_models_dir)
    finally:
        int8_models_dir.chmod(0o755)


def test_without_insightface_the_astronaut_is_held_back_and_your_photos_calibrate(
        int8_models_dir: Path, photo_files: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    """insightface is no run-time dependency: without its sample photos the astronaut is the only shipped face;
    it is held back to measure on, the user's faces calibrate, and the report says which photos were used."""
    from app.core import int8_calibration

    monkeypatch.setattr(int8_calibration, "insightface_images", lambda: None)  # as where it is not installed
    assert [p.name for p in shipped_photos()] == ["astronaut.png"]
    with pytest.raises(NoFaceError, match="not installed") as err:
        build_int8_swapper(int8_models_dir)
    assert "give photos of the faces you will swap in" in str(err.value)
    report = build_int8_swapper(int8_models_dir, [photo_files["t1"]])
    assert report.held_out_faces == ("astronaut.png#1", "astronaut.png#1 mirrored")
    assert len(report.calibration_faces) == 12 and all(c.startswith("source t1.png#") for c in report.calibration_faces)
    assert report.shipped_photos == ("scikit-image astronaut.png",)
    assert "insightface's sample photos were not" in report.summary()
    saved = Int8Report.from_json(json.loads(report_path(int8_path(int8_models_dir / SOURCE, report.source_sha256))
                                            .read_text()))
    assert saved.shipped_photos == report.shipped_photos


def test_reports_name_the_shipped_photos_and_older_reports_still_load(int8_models_dir: Path) -> None:
    report = build_int8_swapper(int8_models_dir)
    assert report.shipped_photos == ("insightface t1.jpg", "insightface Tom_Hanks_54745.png",
                                     "scikit-image astronaut.png")
    assert "Shipped photos used: insightface t1.jpg" in report.summary()
    data = report.to_json()
    del data["shipped_photos"]  # a report written before the field existed
    assert Int8Report.from_json(data).shipped_photos == ()
