"""The project's GFPGANv1Clean definition against the official GFPGAN v1.4 checkpoint layout."""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

F = torch.nn.functional

from app.errors import ModelError  # noqa: E402
from app.models.gfpgan_arch import GFPGANv1Clean, ModulatedConv2d, OnnxWrapper  # noqa: E402
from app.models.gfpgan_convert import load_weights  # noqa: E402

LAYOUT = json.loads((Path(__file__).parent / "data" / "gfpgan_v14_layout.json").read_text())
KEYS: dict[str, list[int]] = LAYOUT["keys"]
SMALL = {"out_size": 64, "num_style_feat": 32, "channel_multiplier": 1, "num_mlp": 2, "narrow": 0.125}


@pytest.fixture(scope="module")
def meta_v14() -> torch.nn.Module:
    with torch.device("meta"):  # the real layout without allocating or initialising 350 MB
        return GFPGANv1Clean()


def layout_state(keys: dict[str, list[int]]) -> dict[str, torch.Tensor]:
    return {k: torch.empty(shape) for k, shape in keys.items()}


def test_parameter_count_is_the_official_86_4m(meta_v14: torch.nn.Module) -> None:
    params = sum(p.numel() for p in meta_v14.parameters())
    assert params == LAYOUT["total_params"] == 86_444_252
    assert round(params / 1e6, 1) == 86.4
    elements = sum(v.numel() for v in meta_v14.state_dict().values())
    assert elements == LAYOUT["state_dict_elements"]
    # The official file is those float32 elements plus zip/pickle framing (tens of KB, not a layer).
    assert 0 < LAYOUT["official_file"]["size"] - 4 * elements < 200_000


def test_key_names_and_shapes_match_recorded_layout(meta_v14: torch.nn.Module) -> None:
    ours = {k: list(v.shape) for k, v in meta_v14.state_dict().items()}
    assert len(ours) == LAYOUT["num_keys"] == 285
    assert ours == KEYS


def test_recorded_layout_agrees_with_published_structure() -> None:
    # Derived by hand from upstream's channel table (U-Net: half of StyleGAN2's; 512 px: 32 * 2 = 64 ch in
    # the decoder, 32 in the U-Net) and the key names printed in TencentARC/GFPGAN issues #40, #125, #392.
    published = {
        "conv_body_first.weight": [32, 3, 1, 1],
        "conv_body_down.0.skip.weight": [64, 32, 1, 1],
        "conv_body_down.6.conv2.weight": [256, 256, 3, 3],
        "final_conv.weight": [256, 256, 3, 3],
        "conv_body_up.0.conv1.weight": [256, 256, 3, 3],
        "conv_body_up.6.skip.weight": [32, 64, 1, 1],
        "toRGB.6.weight": [3, 32, 1, 1],
        "final_linear.weight": [16 * 512, 256 * 4 * 4],  # different_w: 16 latents of 512
        "stylegan_decoder.style_mlp.1.weight": [512, 512],
        "stylegan_decoder.style_mlp.15.bias": [512],
        "stylegan_decoder.constant_input.weight": [1, 512, 4, 4],
        "stylegan_decoder.style_conv1.modulated_conv.weight": [1, 512, 512, 3, 3],
        "stylegan_decoder.style_convs.13.modulated_conv.weight": [1, 64, 64, 3, 3],
        "stylegan_decoder.style_convs.13.weight": [1],
        "stylegan_decoder.to_rgbs.5.modulated_conv.modulation.weight": [128, 512],
        "stylegan_decoder.to_rgbs.6.modulated_conv.weight": [1, 3, 64, 1, 1],
        "stylegan_decoder.noises.noise0": [1, 1, 4, 4],
        "stylegan_decoder.noises.noise14": [1, 1, 512, 512],
        "condition_scale.0.0.weight": [256, 256, 3, 3],
        "condition_scale.6.2.bias": [32],  # sft_half: scale/shift for half of the 64 decoder channels
        "condition_shift.6.2.weight": [32, 32, 3, 3],
    }
    for key, shape in published.items():
        assert KEYS[key] == shape, key
    assert not any(k.startswith("stylegan_decoder.style_mlp.17") for k in KEYS)  # 8 layers: 1, 3, ..., 15
    assert sum(k.startswith("stylegan_decoder.noises.") for k in KEYS) == 15
    assert sum(math.prod(s) for s in KEYS.values()) == LAYOUT["state_dict_elements"]


def test_strict_load_of_recorded_layout_succeeds(meta_v14: torch.nn.Module) -> None:
    load_weights(meta_v14, layout_state(KEYS), Path("GFPGANv1.4.pth"))


@pytest.mark.parametrize(
    "mutate, words",
    [
        (lambda s: s.pop("condition_shift.3.2.bias"), ["1 missing", "condition_shift.3.2.bias"]),
        (
            lambda s: s.__setitem__("final_conv.weight", torch.empty(512, 256, 3, 3)),
            ["mis-shaped", "final_conv.weight", "(512, 256, 3, 3) in the file", "(256, 256, 3, 3) expected"],
        ),
        (lambda s: s.__setitem__("extra.weight", torch.empty(1)), ["unexpected", "extra.weight"]),
    ],
)
def test_bad_layout_fails_with_a_clear_message(meta_v14: torch.nn.Module, mutate, words) -> None:
    state = layout_state(KEYS)
    mutate(state)
    with pytest.raises(ModelError) as err:
        load_weights(meta_v14, state, Path("/models/GFPGANv1.4.pth"))
    msg = str(err.value)
    assert "/models/GFPGANv1.4.pth" in msg and "not a GFPGAN v1.4 checkpoint" in msg
    assert err.value.fetch == ("gfpgan",)
    for w in words:
        assert w in msg
    assert err.value.exit_code == 3


def official_modulated_conv(m: ModulatedConv2d, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
    """Upstream's formulation: per-sample modulated weights and a grouped convolution."""
    b, c, _, _ = x.shape
    weight = m.weight * m.modulation(style).view(b, 1, c, 1, 1)
    if m.demodulate:
        demod = torch.rsqrt(weight.pow(2).sum([2, 3, 4]) + m.eps)
        weight = weight * demod.view(b, m.out_channels, 1, 1, 1)
    weight = weight.view(b * m.out_channels, c, m.kernel_size, m.kernel_size)
    if m.upsample:
        x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
    _, _, h, w = x.shape
    out = F.conv2d(x.reshape(1, b * c, h, w), weight, padding=m.padding, groups=b)
    return out.view(b, m.out_channels, *out.shape[2:4])


@pytest.mark.parametrize(
    "kernel, demodulate, upsample", [(3, True, False), (3, True, True), (1, False, False)]
)
def test_modulated_conv_equals_upstream_formulation(kernel: int, demodulate: bool, upsample: bool) -> None:
    torch.manual_seed(1)
    m = ModulatedConv2d(16, 24, kernel, 32, demodulate=demodulate, upsample=upsample)
    x, style = torch.randn(2, 16, 8, 8), torch.randn(2, 32)
    with torch.no_grad():
        torch.testing.assert_close(m(x, style), official_modulated_conv(m, x, style), rtol=1e-5, atol=1e-5)


def small_net(seed: int = 0) -> GFPGANv1Clean:
    torch.manual_seed(seed)
    net = GFPGANv1Clean(**SMALL).eval()
    with torch.no_grad():  # upstream zero-initialises noise strengths and biases: make them matter
        for name, p in net.named_parameters():
            if p.ndim <= 1 or name.endswith(".bias"):
                p.normal_(0.0, 0.2)
    return net


def test_inference_is_deterministic_with_stored_noise() -> None:
    net = small_net()
    x = torch.rand(1, 3, 64, 64) * 2 - 1
    with torch.no_grad():
        a, b = net(x), net(x)
        r = net(x, randomize_noise=True)
    assert a.shape == (1, 3, 64, 64)
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert not torch.allclose(a, r)  # upstream's random-noise path is still there, and differs


def test_torch_and_onnx_export_agree(tmp_path: Path) -> None:
    import onnxruntime as ort
    net = small_net()
    wrapper = OnnxWrapper(net).eval()
    x = torch.rand(1, 3, 64, 64) * 2 - 1
    path = tmp_path / "small.onnx"
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter warns that it is deprecated
        torch.onnx.export(
            wrapper,
            (x,),
            str(path),
            input_names=["input"],
            output_names=["output"],
            opset_version=17,
            dynamo=False,
        )
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (out,) = sess.run(None, {"input": x.numpy()})
    with torch.no_grad():
        ref = wrapper(x).numpy()
    assert ref.std() > 0.05  # a real signal, not a constant
    np.testing.assert_allclose(out, ref, rtol=1e-4, atol=1e-4)
