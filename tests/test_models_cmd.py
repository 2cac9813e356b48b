"""`deep-live-cam models ...` through argparse, against test manifests and a local HTTP server."""

from __future__ import annotations

import argparse
import hashlib
import json
from collections.abc import Sequence
from pathlib import Path

import pytest

from app.commands import models_cmd
from app.models.manifest import MODEL_FILES, ModelFile
from tests.models.test_download import LocalServer, server, standin_bytes  # noqa: F401 - `server` is a fixture


def parse(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="deep-live-cam")
    models_cmd.add_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(list(argv))


def entry(key: str, data: bytes, url: str = "", *, required: bool = True, default: bool = False) -> ModelFile:
    return ModelFile(
        key,
        f"{key}.onnx",
        "test",
        required,
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        hash_confirmed=True,
        licence="test licence",
        licence_url="https://example.invalid/licence",
        urls=(url,) if url else (),
        default_download=default,
    )


def test_path_prints_the_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert models_cmd.run(parse(["models", "--models-dir", str(tmp_path), "path"])) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path)


def test_models_dir_after_the_action(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert models_cmd.run(parse(["models", "path", "--models-dir", str(tmp_path)])) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path)


def test_list_shows_every_real_entry(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert models_cmd.run(parse(["models", "--models-dir", str(tmp_path), "list"])) == 0
    out = capsys.readouterr().out
    for f in MODEL_FILES:
        assert f.relpath in out
    assert "required" in out and "optional" in out and "non-commercial" in out and "Apache-2.0" in out
    assert "missing" in out


def test_verify_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = b"model" * 100
    files = [entry("need", data), entry("extra", b"xyz", required=False)]
    args = parse(["models", "--models-dir", str(tmp_path), "verify"])

    assert models_cmd.run(args, files) == 3
    assert "need.onnx" in capsys.readouterr().err

    (tmp_path / "need.onnx").write_bytes(data)
    assert models_cmd.run(args, files) == 0  # a missing optional file is fine

    (tmp_path / "extra.onnx").write_bytes(b"xyZ")
    assert models_cmd.run(args, files) == 3  # a corrupt file never is
    assert "corrupt" in capsys.readouterr().out


def test_verify_on_the_real_manifest_fails_on_an_empty_folder(tmp_path: Path) -> None:
    assert models_cmd.run(parse(["models", "--models-dir", str(tmp_path), "verify"])) == 3


def test_download_default_set_then_verify(
    server: LocalServer,  # noqa: F811
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    a, b, c = standin_bytes(40_000, 1), standin_bytes(20_000, 2), standin_bytes(10_000, 3)
    files = [
        entry("swap", a, server.add("/swap.onnx", a)),
        entry("restore", b, server.add("/restore.onnx", b), required=False, default=True),
        entry("extra", c, server.add("/extra.onnx", c), required=False),
    ]
    base = ["models", "--models-dir", str(tmp_path)]

    assert models_cmd.run(parse([*base, "download", "--quiet"]), files) == 0
    assert (tmp_path / "swap.onnx").read_bytes() == a and (tmp_path / "restore.onnx").read_bytes() == b
    assert not (tmp_path / "extra.onnx").exists()
    out = capsys.readouterr().out
    assert "test licence" in out and "sha256 ok" in out

    assert models_cmd.run(parse([*base, "download", "extra"]), files) == 0
    assert (tmp_path / "extra.onnx").read_bytes() == c
    assert models_cmd.run(parse([*base, "verify"]), files) == 0


def test_download_errors(server: LocalServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: F811
    data = standin_bytes(10_000)
    files = [
        entry("liar", b"expected content", server.add("/liar.onnx", data)),
        ModelFile("local", "local.onnx", "test", False, note="convert it yourself"),
    ]
    base = ["models", "--models-dir", str(tmp_path), "download", "--quiet", "--retries", "1"]

    assert models_cmd.run(parse([*base, "nope"]), files) == 2
    assert models_cmd.run(parse([*base, "local"]), files) == 2
    assert "convert it yourself" in capsys.readouterr().err

    assert models_cmd.run(parse([*base, "liar"]), files) == 8
    assert not (tmp_path / "liar.onnx").exists() and not (tmp_path / "liar.onnx.part").exists()


def test_an_unwritable_models_folder_is_a_download_error_not_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], server: LocalServer  # noqa: F811
) -> None:
    data = standin_bytes(1000)
    url = server.add("/m.onnx", data)
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    args = parse(["models", "--models-dir", str(blocker / "models"), "download"])
    assert models_cmd.run(args, files=[entry("m", data, url, default=True)]) == 8
    err = capsys.readouterr().err
    assert "cannot write to" in err and "Traceback" not in err


# -- optimize ----------------------------------------------------------------------------------------------
def test_optimize_builds_reports_and_enables(int8_models_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = parse(["models", "optimize", "--models-dir", str(int8_models_dir)])
    assert models_cmd.run(args) == 0
    captured = capsys.readouterr()
    built = sorted(p.name for p in int8_models_dir.glob("inswapper_128.*.int8.*"))
    assert len(built) == 2 and built[1].endswith(".int8.onnx")
    assert built[1] in captured.out and "PSNR" in captured.out and "worst pixel error" in captured.out
    assert "enabled for `--precision int8`" in captured.out
    assert "calibrating" in captured.err and "checking quality" in captured.err  # the progress bars

    assert models_cmd.run(parse(["models", "list", "--models-dir", str(int8_models_dir)])) == 0
    assert "int8 swapper ready" in capsys.readouterr().out


def test_optimize_below_the_bound_exits_3_and_says_why(
    int8_models_dir: Path, photo_files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    args = parse(["models", "optimize", "--models-dir", str(int8_models_dir), "--quiet", "--min-psnr", "80",
                  "--source", str(photo_files["astronaut"]), str(photo_files["t1"])])
    assert models_cmd.run(args) == 3
    captured = capsys.readouterr()
    assert "NOT enabled" in captured.out and "PSNR" in captured.out
    assert "below the 80 dB bound" in captured.err and captured.err.startswith("error:")
    assert "calibrating" not in captured.err  # --quiet
    report = json.loads(next(int8_models_dir.glob("inswapper_128.*.int8.json")).read_text())
    assert report["enabled"] is False and len(report["user_photos"]) == 2


def test_optimize_exit_codes(
    int8_models_dir: Path, photo_files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def code(*extra: str, models: Path = int8_models_dir) -> int:
        return models_cmd.run(parse(["models", "optimize", "--quiet", "--models-dir", str(models), *extra]))

    assert code("--source", str(photo_files["text"])) == 4
    assert code("--source", str(tmp_path / "nowhere.jpg")) == 4
    assert code("--source", str(photo_files["blank"])) == 5
    assert code("--min-psnr", "0") == 2
    empty = tmp_path / "empty"
    empty.mkdir()
    assert code(models=empty) == 3
    err = capsys.readouterr().err
    assert "notes.jpg" in err and "nowhere.jpg" in err and "blank.png" in err and "inswapper_128.onnx" in err
    assert "Traceback" not in err
    assert not list(int8_models_dir.glob("*.int8.*"))


def test_the_fp16_swapper_downloads_through_the_manifest_and_loads_for_fp16(
    server: LocalServer,  # noqa: F811
    tmp_path: Path,
    standin_models_dir: Path,
) -> None:
    """`models download inswapper-fp16` with the real manifest's entry (its URL pointed at the local server, its
    size and hash at a stand-in's), then `--precision fp16` on onnxruntime picks the file, checked by the guard."""
    import dataclasses
    import shutil

    from app.core.options import EngineOptions
    from app.core.sessions import ModelSet
    from app.models.manifest import INSWAPPER_FP16
    from tests.core.test_backends import _fp16_standin

    assert (INSWAPPER_FP16.key, INSWAPPER_FP16.relpath, INSWAPPER_FP16.size) == ("inswapper-fp16",
                                                                                "inswapper_128_fp16.onnx", 277_680_638)
    assert INSWAPPER_FP16.sha256 == "6d51a9278a1f650cffefc18ba53f38bf2769bf4bbff89267822cf72945f8a38b"
    assert INSWAPPER_FP16.hash_confirmed and INSWAPPER_FP16.urls and not INSWAPPER_FP16.fetched_by_default

    data = _fp16_standin(tmp_path / "built" / "fp16.onnx", overflow=False).read_bytes()
    url = server.add("/" + INSWAPPER_FP16.relpath, data)
    served = dataclasses.replace(INSWAPPER_FP16, size=len(data), sha256=hashlib.sha256(data).hexdigest(),
                                 urls=(url,))
    files = [served if f.key == INSWAPPER_FP16.key else f for f in MODEL_FILES]
    models = shutil.copytree(standin_models_dir, tmp_path / "models")
    args = parse(["models", "--models-dir", str(models), "download", "--quiet", "inswapper-fp16"])
    assert models_cmd.run(args, files) == 0
    assert (models / "inswapper_128_fp16.onnx").read_bytes() == data
    assert server.ranges_seen("/" + INSWAPPER_FP16.relpath)  # fetched from the manifest's URL

    swapper = ModelSet(models, ["CPUExecutionProvider"], EngineOptions(precision="fp16")).swapper
    assert Path(swapper.model_file).name == "inswapper_128_fp16.onnx"
