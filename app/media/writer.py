"""Writing a video atomically: frames go to a temp file in the output's folder, which is renamed over the
output name only when the whole video is written. Audio is copied as it was stored when the container
takes its codec, else re-encoded (AAC; Opus for WebM)."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Literal, Protocol

import av

from app.core.atomic import temp_beside
from app.core.types import Frame
from app.errors import OptionError, OutputError
from app.media import formats
from app.media.colour import from_bgr, tag_bt601
from app.media.reader import AudioItem, VideoInfo, VideoReader

log = logging.getLogger(__name__)

AudioMode = Literal["auto", "copy", "encode", "none"]
MPEG4_MAX_TB_DEN = 65535  # the MPEG-4 part 2 standard's limit on the time base denominator
CFR_CONTAINERS = frozenset({"avi"})  # the frame rate is the time base: frames are stamped one tick apart


class StreamSource(Protocol):
    """What the writer needs of its input: the video's size, rate and time base, and the audio streams
    (templates for copied audio, codec parameters for re-encoded audio)."""

    @property
    def info(self) -> VideoInfo: ...

    @property
    def audio_streams(self) -> list[Any]: ...


@dataclass(frozen=True)
class AudioPlan:
    copy: frozenset[int]  # audio stream numbers copied packet by packet
    encode: frozenset[int]  # ...decoded and re-encoded


def plan_audio(reader: VideoReader, container: str, mode: AudioMode) -> AudioPlan:
    if mode not in ("auto", "copy", "encode", "none"):
        raise OptionError(f"audio mode must be auto, copy, encode or none, got {mode!r}")
    if mode == "none":
        return AudioPlan(frozenset(), frozenset())
    supported = _supported_codecs(container)
    copy, encode = set(), set()
    for i, name in enumerate(reader.info.audio_codecs):
        if mode == "encode" or name not in supported:
            if mode == "copy":
                raise OptionError(f"{container} cannot hold {name} audio as it is; let it be re-encoded")
            encode.add(i)
        else:
            copy.add(i)
    return AudioPlan(frozenset(copy), frozenset(encode))


def _supported_codecs(container: str) -> set[str]:
    probe = av.open(os.devnull, "w", format=container)
    try:
        return set(probe.supported_codecs)
    finally:
        probe.close()


def add_audio_streams(container: Any, container_format: str, streams: list[Any], audio: AudioPlan) -> dict[int, Any]:
    """The output's audio streams by input audio stream number: copied ones from their input stream as
    template, re-encoded ones with the container's audio codec."""
    out: dict[int, Any] = {}
    for i in sorted(audio.copy):
        out[i] = container.add_stream_from_template(streams[i])
    for i in sorted(audio.encode):
        src = streams[i].codec_context
        codec = formats.audio_codec_for(container_format)
        stream = container.add_stream(codec, rate=formats.audio_rate_for(codec, src.sample_rate))
        stream.layout = src.layout.name if src.layout.nb_channels <= 2 else "stereo"
        out[i] = stream
    return out


def audio_packets(outputs: dict[int, Any], encode: frozenset[int], item: AudioItem) -> list[Any]:
    """The packets to mux for one audio item: the packet itself (copy) or what the encoder made of it."""
    out = outputs.get(item.stream)
    if out is None:
        return []
    if item.stream in encode:
        return list(out.encode(item.payload))
    item.payload.stream = out
    return [item.payload]


def flush_audio(outputs: dict[int, Any], encode: frozenset[int]) -> list[Any]:
    return [packet for i, out in outputs.items() if i in encode for packet in out.encode(None)]


class VideoWriter:
    """One output being written. After __init__ the temp file exists; finish() renames it to the output
    name, abort() removes it. Not thread-safe: the encoder thread owns it."""

    def __init__(self, output: str | os.PathLike[str], reader: StreamSource, settings: formats.EncoderSettings,
                 audio: AudioPlan) -> None:
        self.output = Path(output)
        self.container_format = formats.container_for(self.output)
        self.temp = temp_beside(self.output)
        self._container: Any = None
        self.frames = 0
        self._last_pts: int | None = None
        try:
            self._open(reader, settings, audio)
        except BaseException:
            self.abort()
            raise

    def _open(self, reader: StreamSource, settings: formats.EncoderSettings, audio: AudioPlan) -> None:
        options = {"movflags": "+faststart"} if self.container_format in ("mp4", "mov") else {}
        try:
            self._container = av.open(str(self.temp), "w", format=self.container_format, options=options)
        except (av.FFmpegError, OSError) as exc:
            raise OutputError(f"cannot write {self.output}: {exc}") from exc
        info = reader.info
        self.video, self.codec = self._add_video(info, settings)
        self._audio_out = add_audio_streams(self._container, self.container_format, reader.audio_streams, audio)
        self._encode_audio = audio.encode
        try:
            self._container.start_encoding()
        except av.FFmpegError as exc:
            raise OutputError(f"cannot start writing {self.output}: {exc}") from exc
        log.info("writing %s: %s %s, %dx%d at %.3f fps; audio copied %s, re-encoded %s",
                 self.output, self.codec, dict(self.video.codec_context.options), info.width, info.height,
                 info.fps, sorted(audio.copy), sorted(audio.encode))

    def _add_video(self, info: VideoInfo, settings: formats.EncoderSettings) -> tuple[Any, str]:
        errors: list[str] = []
        for codec in formats.candidates(settings, self.container_format):
            try:
                return self._try_video(codec, info, settings), codec
            except (av.FFmpegError, ValueError) as exc:
                errors.append(f"{codec}: {exc}")
                log.info("video encoder %s did not open (%s); trying the next", codec, exc)
        raise OutputError(f"no video encoder could be opened for {self.output}: {'; '.join(errors)}")

    def _try_video(self, codec: str, info: VideoInfo, settings: formats.EncoderSettings) -> Any:
        options = formats.encoder_options(codec, settings)
        stream = self._container.add_stream(codec, rate=info.rate, options=options)
        stream.width, stream.height = info.width, info.height
        stream.pix_fmt = self._pix_fmt = formats.pixel_format(codec, settings, (info.width, info.height))
        tag_bt601(stream.codec_context)
        # The input's own time base keeps every frame's timestamp, so variable and odd rates survive.
        tb = info.time_base
        if self.container_format in CFR_CONTAINERS or (codec == "mpeg4" and tb.denominator > MPEG4_MAX_TB_DEN):
            # one tick per frame: AVI has no timestamps of its own, MPEG-4 part 2 limits the time base
            tb = 1 / info.rate if info.rate.numerator <= MPEG4_MAX_TB_DEN else Fraction(1, MPEG4_MAX_TB_DEN)
        self._in_tb, self._out_tb = info.time_base, tb
        stream.time_base = tb
        stream.codec_context.time_base = tb
        q = formats.qscale_for(codec, settings)
        if q is not None:
            stream.codec_context.qscale = q
        stream.codec_context.thread_type = "AUTO"
        stream.codec_context.open()  # fails here (not at the first frame) when a hardware encoder is absent
        return stream

    def write_frame(self, frame: Frame, pts: int) -> None:
        if self._out_tb != self._in_tb:
            pts = round(pts * self._in_tb / self._out_tb)
        if self._last_pts is not None and pts <= self._last_pts:
            pts = self._last_pts + 1  # the encoder needs strictly increasing stamps
        self._last_pts = pts
        vf = from_bgr(frame, self._pix_fmt)
        vf.pts = pts
        vf.time_base = self._out_tb
        self._mux(self.video.encode(vf))
        self.frames += 1

    def write_audio(self, item: AudioItem) -> None:
        self._mux(audio_packets(self._audio_out, self._encode_audio, item))

    def _mux(self, packets: Any) -> None:
        mux(self._container, packets, self.output)

    def close(self) -> None:
        """Flush the encoders and close the temp file (still under its temp name)."""
        try:
            self._mux(self.video.encode(None))
            self._mux(flush_audio(self._audio_out, self._encode_audio))
            self._container.close()
        except av.FFmpegError as exc:
            raise OutputError(f"finishing {self.output} failed: {exc}") from exc
        except OSError as exc:
            raise OutputError(f"finishing {self.output} failed: {exc.strerror or exc}") from exc
        self._container = None

    def commit(self) -> Path:
        """Rename the finished temp file to the output name (replacing an older file there)."""
        try:
            os.replace(self.temp, self.output)
        except OSError as exc:
            self.abort()
            raise OutputError(f"cannot write {self.output}: {exc.strerror or exc}") from exc
        return self.output

    def abort(self) -> None:
        """Drop everything written: nothing is left under the output name or the temp name."""
        if self._container is not None:
            try:
                self._container.close()
            except Exception:  # a half-set-up muxer may fail to write its trailer; the file goes anyway
                log.debug("closing the unfinished %s failed", self.temp, exc_info=True)
            self._container = None
        self.temp.unlink(missing_ok=True)


def mux(container: Any, packets: Any, output: Path) -> None:
    """Write packets, FFmpeg's and the disk's failures as OutputErrors naming the output."""
    try:
        container.mux(packets)
    except av.FFmpegError as exc:
        raise OutputError(f"writing {output} failed: {exc}") from exc
    except OSError as exc:
        raise OutputError(f"writing {output} failed: {exc.strerror or exc}") from exc
