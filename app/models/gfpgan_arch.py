"""The project's own torch definition of GFPGANv1Clean (GFPGAN v1.4), for converting the official checkpoint.

The gfpgan/basicsr packages cannot be imported with current torch, so this module re-states the network:
a U-Net encoder whose features drive, through SFT (spatial feature transform) conditions, a StyleGAN2
generator. Module and attribute names are chosen so that `state_dict()` has exactly the key names and
shapes of TencentARC's GFPGANv1.4.pth `params_ema` (out_size 512, 512 style features, channel multiplier 2,
8-layer mapping, different w per layer, SFT on half the channels), so that file loads with strict=True.

Only `app.models.gfpgan_convert` imports this module, and only when a .pth must be converted: torch is not a
runtime dependency of the app.

Inference differs from the training code in two deliberate, documented ways:
- Noise: upstream's default `randomize_noise=True` draws fresh N(0,1) noise for every call (TencentARC's
  GFPGANer uses that default), which makes the output random and is not a deterministic graph. Here the
  default is the upstream `randomize_noise=False` path: the checkpoint's own stored noise buffers
  (`stylegan_decoder.noises.noise{i}`, one fixed N(0,1) draw). That is one sample of the same distribution
  upstream inference uses, it is exactly reproducible (good for a live video: no frame-to-frame texture
  flicker), and it is what the ONNX export bakes in. `randomize_noise=True` remains available in torch.
- Modulated convolution: upstream scales the conv *weight* by the style per sample and runs a grouped conv
  (a weight computed at run time). Here the *input* is scaled by the style and the output by the
  demodulation factor, around a conv with the stored weight. Mathematically identical
  (conv(x*s, W)*d == conv(x, W*s*d)), but the exported graph keeps every conv weight a constant (which
  onnxruntime can pre-pack) and works for any batch size.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def _channels(narrow: float, channel_multiplier: int) -> dict[int, int]:
    """StyleGAN2's channel count per resolution (upstream's `channels` table)."""
    base = {
        4: 512,
        8: 512,
        16: 512,
        32: 512,
        64: 256 * channel_multiplier,
        128: 128 * channel_multiplier,
        256: 64 * channel_multiplier,
        512: 32 * channel_multiplier,
        1024: 16 * channel_multiplier,
    }
    return {res: int(ch * narrow) for res, ch in base.items()}


def _log2_size(out_size: int) -> int:
    log_size = int(math.log2(out_size))
    if 2**log_size != out_size or log_size < 3:
        raise ValueError(f"out_size must be a power of two >= 8, got {out_size}")
    return log_size


class NormStyleCode(nn.Module):
    def forward(self, x: Tensor) -> Tensor:
        return x * torch.rsqrt(torch.mean(x**2, dim=1, keepdim=True) + 1e-8)


class ModulatedConv2d(nn.Module):
    """StyleGAN2 modulated convolution (no bias), optionally after a 2x bilinear upsample."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        num_style_feat: int,
        demodulate: bool = True,
        upsample: bool = False,
        eps: float = 1e-8,
    ) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = kernel_size
        self.demodulate = demodulate
        self.upsample = upsample
        self.eps = eps
        self.modulation = nn.Linear(num_style_feat, in_channels, bias=True)
        self.weight = nn.Parameter(
            torch.randn(1, out_channels, in_channels, kernel_size, kernel_size)
            / math.sqrt(in_channels * kernel_size**2)
        )
        self.padding = kernel_size // 2

    def forward(self, x: Tensor, style: Tensor) -> Tensor:
        s = self.modulation(style)  # (b, c_in)
        weight = self.weight[0]  # (c_out, c_in, k, k)
        if self.upsample:
            x = F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False)
        out = F.conv2d(x * s[:, :, None, None], weight, padding=self.padding)
        if self.demodulate:
            # sum over (c_in, k, k) of (W * s)^2 == (s^2) @ sum_k(W^2)^T
            w2 = weight.pow(2).sum(dim=(2, 3))  # (c_out, c_in)
            demod = torch.rsqrt(torch.matmul(s * s, w2.t()) + self.eps)  # (b, c_out)
            out = out * demod[:, :, None, None]
        return out


class StyleConv(nn.Module):
    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        num_style_feat: int,
        upsample: bool = False,
    ) -> None:
        super().__init__()
        self.modulated_conv = ModulatedConv2d(
            in_channels, out_channels, kernel_size, num_style_feat, demodulate=True, upsample=upsample
        )
        self.weight = nn.Parameter(torch.zeros(1))  # noise strength
        self.bias = nn.Parameter(torch.zeros(1, out_channels, 1, 1))
        self.activate = nn.LeakyReLU(negative_slope=0.2)

    def forward(self, x: Tensor, style: Tensor, noise: Tensor | None) -> Tensor:
        out: Tensor = self.modulated_conv(x, style) * 2**0.5
        if noise is None:  # upstream's randomize_noise=True: torch only, never exported
            b, _, h, w = out.shape
            noise = out.new_empty(b, 1, h, w).normal_()
        out = out + self.weight * noise
        activated: Tensor = self.activate(out + self.bias)
        return activated


class ToRGB(nn.Module):
    def __init__(self, in_channels: int, num_style_feat: int, upsample: bool = True) -> None:
        super().__init__()
        self.upsample = upsample
        self.modulated_conv = ModulatedConv2d(in_channels, 3, 1, num_style_feat, demodulate=False)
        self.bias = nn.Parameter(torch.zeros(1, 3, 1, 1))

    def forward(self, x: Tensor, style: Tensor, skip: Tensor | None = None) -> Tensor:
        out: Tensor = self.modulated_conv(x, style) + self.bias
        if skip is not None:
            if self.upsample:
                skip = F.interpolate(skip, scale_factor=2.0, mode="bilinear", align_corners=False)
            out = out + skip
        return out


class ConstantInput(nn.Module):
    def __init__(self, num_channel: int, size: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(1, num_channel, size, size))

    def forward(self, batch: int) -> Tensor:
        return self.weight.expand(batch, -1, -1, -1)


class StyleGAN2GeneratorCSFT(nn.Module):
    """StyleGAN2 generator whose features are modulated by the encoder's SFT conditions.

    The mapping network (`style_mlp`) is part of the checkpoint but unused at inference: GFPGAN feeds
    latents directly (input_is_latent=True).
    """

    def __init__(
        self,
        out_size: int,
        num_style_feat: int = 512,
        num_mlp: int = 8,
        channel_multiplier: int = 2,
        narrow: float = 1,
        sft_half: bool = True,
    ) -> None:
        super().__init__()
        self.num_style_feat = num_style_feat
        self.sft_half = sft_half
        mlp: list[nn.Module] = [NormStyleCode()]
        for _ in range(num_mlp):
            mlp += [nn.Linear(num_style_feat, num_style_feat, bias=True), nn.LeakyReLU(negative_slope=0.2)]
        self.style_mlp = nn.Sequential(*mlp)

        channels = _channels(narrow, channel_multiplier)
        self.constant_input = ConstantInput(channels[4], size=4)
        self.style_conv1 = StyleConv(channels[4], channels[4], 3, num_style_feat)
        self.to_rgb1 = ToRGB(channels[4], num_style_feat, upsample=False)

        self.log_size = _log2_size(out_size)
        self.num_layers = (self.log_size - 2) * 2 + 1
        self.num_latent = self.log_size * 2 - 2

        self.style_convs = nn.ModuleList()
        self.to_rgbs = nn.ModuleList()
        self.noises = nn.Module()
        for layer_idx in range(self.num_layers):
            resolution = 2 ** ((layer_idx + 5) // 2)
            self.noises.register_buffer(f"noise{layer_idx}", torch.randn(1, 1, resolution, resolution))
        in_channels = channels[4]
        for i in range(3, self.log_size + 1):
            out_channels = channels[2**i]
            self.style_convs.append(StyleConv(in_channels, out_channels, 3, num_style_feat, upsample=True))
            self.style_convs.append(StyleConv(out_channels, out_channels, 3, num_style_feat))
            self.to_rgbs.append(ToRGB(out_channels, num_style_feat, upsample=True))
            in_channels = out_channels

    def stored_noise(self) -> list[Tensor]:
        return [getattr(self.noises, f"noise{i}") for i in range(self.num_layers)]

    def forward(self, latent: Tensor, conditions: list[Tensor], randomize_noise: bool = False) -> Tensor:
        """latent: (b, num_latent, num_style_feat), one w per layer."""
        noise: list[Tensor | None] = (
            [None] * self.num_layers if randomize_noise else list(self.stored_noise())
        )
        out: Tensor = self.constant_input(latent.shape[0])
        out = self.style_conv1(out, latent[:, 0], noise[0])
        skip: Tensor = self.to_rgb1(out, latent[:, 1])
        i = 1
        for conv1, conv2, noise1, noise2, to_rgb in zip(
            self.style_convs[::2], self.style_convs[1::2], noise[1::2], noise[2::2], self.to_rgbs, strict=True
        ):
            out = conv1(out, latent[:, i], noise1)
            if i < len(conditions):
                scale, shift = conditions[i - 1], conditions[i]
                if self.sft_half:
                    half = out.size(1) // 2
                    out = torch.cat([out[:, :half], out[:, half:] * scale + shift], dim=1)
                else:
                    out = out * scale + shift
            out = conv2(out, latent[:, i + 1], noise2)
            skip = to_rgb(out, latent[:, i + 2], skip)
            i += 2
        return skip


class ResBlock(nn.Module):
    """Residual block with a 2x bilinear down- or upsample."""

    def __init__(self, in_channels: int, out_channels: int, mode: str) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, in_channels, 3, 1, 1)
        self.conv2 = nn.Conv2d(in_channels, out_channels, 3, 1, 1)
        self.skip = nn.Conv2d(in_channels, out_channels, 1, bias=False)
        self.scale_factor = {"down": 0.5, "up": 2.0}[mode]

    def forward(self, x: Tensor) -> Tensor:
        out = F.leaky_relu(self.conv1(x), negative_slope=0.2)
        out = F.interpolate(out, scale_factor=self.scale_factor, mode="bilinear", align_corners=False)
        out = F.leaky_relu(self.conv2(out), negative_slope=0.2)
        x = F.interpolate(x, scale_factor=self.scale_factor, mode="bilinear", align_corners=False)
        skipped: Tensor = self.skip(x)
        return out + skipped


def _sft_branch(channels: int, out_channels: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(channels, channels, 3, 1, 1), nn.LeakyReLU(0.2), nn.Conv2d(channels, out_channels, 3, 1, 1)
    )


class GFPGANv1Clean(nn.Module):
    """GFPGAN: U-Net encoder + StyleGAN2 decoder with SFT. Defaults are GFPGAN v1.4's.

    Smaller configurations (out_size, num_style_feat, channel_multiplier, narrow, num_mlp) exist for tests.
    `forward` maps (b, 3, S, S) RGB in [-1, 1] to the restored (b, 3, S, S), nominally in [-1, 1]
    (unclamped, as upstream).
    """

    def __init__(
        self,
        out_size: int = 512,
        num_style_feat: int = 512,
        channel_multiplier: int = 2,
        num_mlp: int = 8,
        narrow: float = 1,
        sft_half: bool = True,
    ) -> None:
        super().__init__()
        self.num_style_feat = num_style_feat
        self.log_size = _log2_size(out_size)
        channels = _channels(narrow * 0.5, channel_multiplier)  # the U-Net uses half the channels

        self.conv_body_first = nn.Conv2d(3, channels[out_size], 1)
        in_channels = channels[out_size]
        self.conv_body_down = nn.ModuleList()
        for i in range(self.log_size, 2, -1):
            self.conv_body_down.append(ResBlock(in_channels, channels[2 ** (i - 1)], mode="down"))
            in_channels = channels[2 ** (i - 1)]
        self.final_conv = nn.Conv2d(in_channels, channels[4], 3, 1, 1)

        self.conv_body_up = nn.ModuleList()
        in_channels = channels[4]
        for i in range(3, self.log_size + 1):
            self.conv_body_up.append(ResBlock(in_channels, channels[2**i], mode="up"))
            in_channels = channels[2**i]
        # Intermediate RGB outputs: a training-time loss only, kept for the checkpoint's keys.
        self.toRGB = nn.ModuleList(nn.Conv2d(channels[2**i], 3, 1) for i in range(3, self.log_size + 1))

        # different_w=True: one latent per decoder layer
        self.final_linear = nn.Linear(channels[4] * 4 * 4, (self.log_size * 2 - 2) * num_style_feat)
        self.stylegan_decoder = StyleGAN2GeneratorCSFT(
            out_size, num_style_feat, num_mlp, channel_multiplier, narrow, sft_half
        )

        self.condition_scale = nn.ModuleList()
        self.condition_shift = nn.ModuleList()
        for i in range(3, self.log_size + 1):
            ch = channels[2**i]
            sft_out = ch if sft_half else ch * 2
            self.condition_scale.append(_sft_branch(ch, sft_out))
            self.condition_shift.append(_sft_branch(ch, sft_out))

    def forward(self, x: Tensor, randomize_noise: bool = False) -> Tensor:
        feat = F.leaky_relu(self.conv_body_first(x), negative_slope=0.2)
        unet_skips: list[Tensor] = []
        for block in self.conv_body_down:
            feat = block(feat)
            unet_skips.insert(0, feat)
        feat = F.leaky_relu(self.final_conv(feat), negative_slope=0.2)

        style_code = self.final_linear(feat.flatten(1))
        latent = style_code.view(style_code.size(0), -1, self.num_style_feat)

        conditions: list[Tensor] = []
        for skip, up, scale, shift in zip(
            unet_skips, self.conv_body_up, self.condition_scale, self.condition_shift, strict=True
        ):
            feat = up(feat + skip)
            conditions.append(scale(feat))
            conditions.append(shift(feat))
        out: Tensor = self.stylegan_decoder(latent, conditions, randomize_noise=randomize_noise)
        return out


class OnnxWrapper(nn.Module):
    """What the ONNX file contains: the deterministic forward, clamped to the contract's [-1, 1]."""

    def __init__(self, net: GFPGANv1Clean) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: Tensor) -> Tensor:
        return torch.clamp(self.net(x, randomize_noise=False), -1.0, 1.0)
