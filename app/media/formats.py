"""Containers and codecs: which encoder a video gets, with what quality, in which container.

The FFmpeg inside PyAV's wheel decides what is possible, so every choice is checked against it once, when a
job is set up, with a message that names the alternatives."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from av.codec.codec import Codec

from app.errors import OptionError, OutputError

log = logging.getLogger(__name__)

# Output suffix -> FFmpeg muxer. The temp file has another name, so the muxer is always named explicitly.
CONTAINERS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska", ".webm": "webm", ".avi": "avi"}
# Suffixes the `swap` command treats as videos without probing (inputs may be anything FFmpeg reads).
VIDEO_SUFFIXES = frozenset({*CONTAINERS, ".mpg", ".mpeg", ".ts", ".m2ts", ".mts", ".wmv", ".flv", ".3gp", ".ogv"})

# Preferred encoders per muxer, best first; the first one the wheel has is the default.
DEFAULT_CODECS = {
    "mp4": ("libx264", "mpeg4"),
    "mov": ("libx264", "mpeg4"),
    "matroska": ("libx264", "mpeg4"),
    "avi": ("libx264", "mpeg4"),
    "webm": ("libvpx-vp9", "libsvtav1"),
}
DEFAULT_AUDIO = {"webm": "libopus"}  # everything else gets AAC when audio cannot be copied
# Hardware H.264 encoders tried, in order, for codec="hw" (each needs its device and driver at run time).
HW_CODECS = ("h264_nvenc", "h264_qsv", "h264_amf", "h264_videotoolbox", "h264_vaapi", "h264_v4l2m2m")
ALIASES = {"h264": "libx264", "x264": "libx264", "hevc": "libx265", "h265": "libx265", "x265": "libx265",
           "vp9": "libvpx-vp9", "av1": "libsvtav1"}

DEFAULT_CRF = 18  # visually lossless for x264; the swapped face should not be blurred by the encoder
DEFAULT_PRESET = "medium"
X264_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow")


@cache
def has_encoder(name: str) -> bool:
    try:
        Codec(name, "w")
    except Exception:
        return False
    return True


def container_for(path: Path) -> str:
    fmt = CONTAINERS.get(path.suffix.lower())
    if fmt is None:
        raise OutputError(
            f"unsupported video output {path.suffix or '(no suffix)'!r}; use one of {', '.join(sorted(CONTAINERS))}"
        )
    return fmt


@dataclass(frozen=True)
class EncoderSettings:
    """How the video stream is encoded. codec None: the container's default (libx264 where the wheel has it);
    "hw": the first hardware H.264 encoder that opens, else the default. quality: CRF-like (lower is better;
    libx264/x265 0-51, VP9/AV1 0-63; mpeg4 maps it to qscale 2-31)."""

    codec: str | None = None
    quality: int | None = None
    preset: str | None = None
    pix_fmt: str | None = None

    def __post_init__(self) -> None:
        if self.quality is not None and not 0 <= self.quality <= 63:
            raise OptionError(f"video quality (CRF) must be between 0 and 63, got {self.quality}")


def candidates(settings: EncoderSettings, container: str) -> list[str]:
    """Encoders to try in order: the user's choice (or hardware encoders, then the default)."""
    if settings.codec is None or settings.codec == "hw":
        defaults = [c for c in DEFAULT_CODECS.get(container, ("libx264", "mpeg4")) if has_encoder(c)]
        if not defaults:
            raise OutputError(f"this FFmpeg build has no video encoder for {container}")
        hw = [c for c in HW_CODECS if has_encoder(c)] if settings.codec == "hw" else []
        return hw + defaults[:1]
    name = ALIASES.get(settings.codec.lower(), settings.codec)
    if not has_encoder(name):
        raise OptionError(f"video codec {settings.codec!r} is not available in this FFmpeg build")
    return [name]


def encoder_options(codec: str, settings: EncoderSettings) -> dict[str, str]:
    """The FFmpeg private options that set quality and speed for `codec`."""
    crf = settings.quality if settings.quality is not None else DEFAULT_CRF
    preset = settings.preset
    if codec in ("libx264", "libx265"):
        if preset is not None and preset not in X264_PRESETS:
            raise OptionError(f"video preset must be one of {', '.join(X264_PRESETS)}, got {preset!r}")
        return {"crf": str(min(crf, 51)), "preset": preset or DEFAULT_PRESET}
    if codec == "libvpx-vp9":
        # constant quality needs b:v 0; the preset maps onto cpu-used (faster presets -> higher numbers)
        speeds = {"ultrafast": 8, "superfast": 7, "veryfast": 6, "faster": 5, "fast": 4, "medium": 3}
        speed = speeds.get(preset or "", 2)
        return {"crf": str(crf + 13), "b": "0", "cpu-used": str(speed), "row-mt": "1"}
    if codec == "libsvtav1":
        return {"crf": str(crf + 12), "preset": "8" if preset is None else _svt_preset(preset)}
    if codec.endswith("_nvenc"):
        return {"rc": "vbr", "cq": str(min(crf + 1, 51)), "preset": "p5" if preset is None else preset}
    if codec.endswith("_qsv"):
        return {"global_quality": str(crf + 2)}
    if codec.endswith("_amf"):
        return {"rc": "cqp", "qp_i": str(crf), "qp_p": str(crf + 2)}
    return {}


def _svt_preset(preset: str) -> str:
    if preset.isdigit():
        return preset
    return str({"ultrafast": 12, "superfast": 11, "veryfast": 10, "faster": 9, "fast": 8, "medium": 6}.get(preset, 4))


def qscale_for(codec: str, settings: EncoderSettings) -> int | None:
    """mpeg4 (and other old encoders) use a fixed quantiser instead of a CRF."""
    if codec != "mpeg4":
        return None
    crf = settings.quality if settings.quality is not None else DEFAULT_CRF
    return max(2, min(31, round(crf / 6)))  # crf 18 -> q 3: mpeg4's "very good"


def pixel_format(codec: str, settings: EncoderSettings, size: tuple[int, int]) -> str:
    if settings.pix_fmt:
        return settings.pix_fmt
    width, height = size
    if (width % 2 or height % 2) and codec in ("libx264", "libx265", "libvpx-vp9"):
        # 4:2:0 needs even sizes; 4:4:4 keeps the odd size exactly (at some cost in player support)
        log.warning("odd frame size %dx%d: encoding 4:4:4 to keep it", width, height)
        return "yuv444p"
    if codec.endswith(("_qsv", "_vaapi")):
        return "nv12"
    return "yuv420p"


def audio_codec_for(container: str) -> str:
    name = DEFAULT_AUDIO.get(container, "aac")
    return name if has_encoder(name) else "aac"


def audio_rate_for(codec: str, rate: int) -> int:
    """`rate`, or the nearest sample rate the encoder takes (Opus: 48 kHz only); frames are resampled."""
    rates = Codec(codec, "w").audio_rates
    if not rates or rate in rates:
        return rate
    return min(rates, key=lambda r: (abs(r - rate), -r))
