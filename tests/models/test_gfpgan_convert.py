"""GFPGANv1.4.pth -> ONNX conversion: file choice, cache, and the errors a user can meet."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from app.errors import ModelError
from app.models.gfpgan_convert import ArchConfig, cached_onnx_path, ensure_restorer_onnx, sha256_file

ROOT = Path(__file__).resolve().parents[2]
SMALL = ArchConfig(out_size=64, num_style_feat=32, channel_multiplier=1, num_mlp=2, narrow=0.125)


def small_state(seed: int) -> dict:
    import torch

    from app.models.gfpgan_arch import GFPGANv1Clean

    torch.manual_seed(seed)
    net = GFPGANv1Clean(out_size=64, num_style_feat=32, channel_multiplier=1, num_mlp=2, narrow=0.125)
    with torch.no_grad():
        for name, p in net.named_parameters():
            if p.ndim <= 1 or name.endswith(".bias"):
                p.normal_(0.0, 0.2)
    return net.state_dict()


def write_pth(path: Path, obj: object) -> Path:
    import torch
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(obj, path)
    return path


def test_module_imports_without_torch() -> None:
    code = (
        "import sys; sys.modules['torch'] = None; import app.models.gfpgan_convert; "
        "assert 'app.models.gfpgan_arch' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)


def test_onnx_file_is_preferred_and_needs_no_torch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "GFPGANv1.4.onnx").write_bytes(b"onnx")
    (tmp_path / "GFPGANv1.4.pth").write_bytes(b"not even read")
    monkeypatch.setitem(sys.modules, "torch", None)
    assert ensure_restorer_onnx(tmp_path) == tmp_path / "GFPGANv1.4.onnx"


def test_neither_file_names_both_and_the_download(tmp_path: Path) -> None:
    with pytest.raises(ModelError) as err:
        ensure_restorer_onnx(tmp_path)
    msg = str(err.value)
    assert str(tmp_path / "GFPGANv1.4.pth") in msg and str(tmp_path / "GFPGANv1.4.onnx") in msg
    assert err.value.fetch == ("gfpgan",)
    assert err.value.exit_code == 3


def test_missing_torch_says_how_to_get_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "GFPGANv1.4.pth").write_bytes(b"whatever")
    monkeypatch.setitem(sys.modules, "torch", None)  # makes `import torch` raise ImportError
    with pytest.raises(ModelError) as err:
        ensure_restorer_onnx(tmp_path)
    msg = str(err.value)
    assert str(tmp_path / "GFPGANv1.4.pth") in msg
    assert "pip install torch==2.13.0" in msg and str(tmp_path / "GFPGANv1.4.onnx") in msg


def test_conversion_end_to_end_and_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import onnxruntime as ort
    import torch

    from app.models.gfpgan_arch import GFPGANv1Clean, OnnxWrapper

    state = small_state(seed=0)
    pth = write_pth(tmp_path / "GFPGANv1.4.pth", {"params_ema": state})
    onnx_path = ensure_restorer_onnx(tmp_path, SMALL)
    assert onnx_path == cached_onnx_path(pth, sha256_file(pth))
    assert onnx_path.name == f"GFPGANv1.4.{sha256_file(pth)[:12]}.onnx"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["GFPGANv1.4.pth", onnx_path.name])

    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    (inp,), (out,) = sess.get_inputs(), sess.get_outputs()
    assert (inp.name, inp.shape, inp.type) == ("input", [1, 3, 64, 64], "tensor(float)")
    assert (out.name, out.shape) == ("output", [1, 3, 64, 64])
    x = np.random.default_rng(0).uniform(-1, 1, (1, 3, 64, 64)).astype(np.float32)
    net = GFPGANv1Clean(out_size=64, num_style_feat=32, channel_multiplier=1, num_mlp=2, narrow=0.125)
    net.load_state_dict(state)
    with torch.no_grad():
        ref = OnnxWrapper(net.eval())(torch.from_numpy(x)).numpy()
    got = sess.run(None, {"input": x})[0]
    np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-4)
    assert got.min() >= -1.0 and got.max() <= 1.0

    # Same checkpoint: the cached file is used, nothing converts.
    import app.models.gfpgan_convert as conv

    def no_convert(*_a: object, **_k: object) -> Path:
        raise AssertionError("converted twice")

    monkeypatch.setattr(conv, "convert_checkpoint", no_convert)
    assert ensure_restorer_onnx(tmp_path, SMALL) == onnx_path
    monkeypatch.undo()

    # A replaced checkpoint converts anew (stubbed: the real conversion is checked above) and the stale
    # conversion goes away.
    def stub_convert(_pth: Path, out: Path, _config: ArchConfig) -> Path:
        out.write_bytes(b"converted")
        return out

    monkeypatch.setattr(conv, "convert_checkpoint", stub_convert)
    write_pth(pth, {"params_ema": small_state(seed=1)})
    second = ensure_restorer_onnx(tmp_path, SMALL)
    assert second == cached_onnx_path(pth, sha256_file(pth)) != onnx_path
    assert second.read_bytes() == b"converted" and not onnx_path.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["GFPGANv1.4.pth", second.name])


def test_failed_write_leaves_no_partial_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import torch
    write_pth(tmp_path / "GFPGANv1.4.pth", {"params_ema": small_state(seed=0)})

    def disk_full(_model: object, _args: object, f: str, **_kw: object) -> None:
        Path(f).write_bytes(b"half an onnx file")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(torch.onnx, "export", disk_full)
    with pytest.raises(ModelError, match="Cannot write the converted restorer.*No space left"):
        ensure_restorer_onnx(tmp_path, SMALL)
    assert [p.name for p in tmp_path.iterdir()] == ["GFPGANv1.4.pth"]


def corrupt_cases(tmp: Path) -> list[tuple[str, Path]]:
    good = write_pth(tmp / "good" / "GFPGANv1.4.pth", {"params_ema": small_state(seed=0)})
    truncated = tmp / "truncated" / "GFPGANv1.4.pth"
    truncated.parent.mkdir()
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    garbage = tmp / "garbage" / "GFPGANv1.4.pth"
    garbage.parent.mkdir()
    garbage.write_bytes(b"<html>404 Not Found</html>" * 10)
    empty = tmp / "empty" / "GFPGANv1.4.pth"
    empty.parent.mkdir()
    empty.write_bytes(b"")
    return [
        ("corrupt or truncated", truncated),
        ("not a PyTorch file at all", garbage),
        ("the file is empty", empty),
    ]


def test_corrupt_checkpoints_are_named(tmp_path: Path) -> None:
    for label, pth in corrupt_cases(tmp_path):
        with pytest.raises(ModelError) as err:
            ensure_restorer_onnx(pth.parent, SMALL)
        msg = str(err.value)
        assert str(pth) in msg, label
        assert "cannot be read as a PyTorch checkpoint" in msg and label in msg, label
        assert err.value.fetch == ("gfpgan",), label
        assert [p.name for p in pth.parent.iterdir()] == ["GFPGANv1.4.pth"], label


class NotATensor:  # pickled into a checkpoint, it must not be unpickled (weights_only)
    pass


def test_checkpoint_with_python_objects_is_refused(tmp_path: Path) -> None:
    pth = tmp_path / "GFPGANv1.4.pth"
    write_pth(pth, {"params_ema": small_state(seed=0), "extra": NotATensor()})
    with pytest.raises(ModelError, match=r"Python objects besides tensors \(.*NotATensor\)"):
        ensure_restorer_onnx(tmp_path, SMALL)


def test_other_architecture_names_keys(tmp_path: Path) -> None:
    import torch
    other = {"body.0.rdb1.conv1.weight": torch.zeros(64, 3, 3, 3), "conv_first.weight": torch.zeros(64, 3)}
    pth = write_pth(tmp_path / "GFPGANv1.4.pth", {"params_ema": other})
    with pytest.raises(ModelError) as err:
        ensure_restorer_onnx(tmp_path, SMALL)
    msg = str(err.value)
    assert str(pth) in msg and "not a GFPGAN v1.4 checkpoint" in msg
    assert "missing key(s) (conv_body_first.weight" in msg
    assert "2 unexpected key(s) (body.0.rdb1.conv1.weight, conv_first.weight)" in msg


def test_mis_shaped_checkpoint_names_key(tmp_path: Path) -> None:
    import torch
    state = small_state(seed=0)
    state["final_linear.bias"] = torch.zeros(7)
    write_pth(tmp_path / "GFPGANv1.4.pth", state)  # a bare state dict (no params_ema) is accepted too
    with pytest.raises(ModelError, match=r"final_linear\.bias: \(7,\) in the file"):
        ensure_restorer_onnx(tmp_path, SMALL)


@pytest.mark.parametrize("obj", [[1, 2, 3], {"params_ema": {"a": 1}}, {"optimizer": {}}])
def test_checkpoint_without_weights(tmp_path: Path, obj: object) -> None:
    pth = write_pth(tmp_path / "GFPGANv1.4.pth", obj)
    with pytest.raises(ModelError, match="holds no network weights") as err:
        ensure_restorer_onnx(tmp_path, SMALL)
    assert str(pth) in str(err.value)
