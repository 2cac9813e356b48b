"""Opening a video for reading: what it holds (size, rate, time base, audio), and its frames and audio in
demux order."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import av.container
import av.stream

from app.core.types import Frame
from app.errors import InputError
from app.media.colour import to_bgr

log = logging.getLogger(__name__)

# Demuxers that read still images: FFmpeg opens a PNG as a one-frame "video"; the swap command must not.
STILL_FORMATS = ("image2", "_pipe", "gif_pipe", "webp", "apng")


@dataclass(frozen=True)
class VideoInfo:
    path: Path
    width: int
    height: int
    rate: Fraction  # average frame rate (frames per second)
    time_base: Fraction  # of the video stream: pts * time_base = seconds
    frames: int | None  # from the header or estimated from the duration; None when unknown
    duration_s: float | None
    codec: str
    audio_codecs: tuple[str, ...]  # one per audio stream, in stream order
    container: str

    @property
    def fps(self) -> float:
        return float(self.rate)


@dataclass(frozen=True)
class VideoItem:
    """A decoded video frame (BGR) with its presentation time."""

    index: int
    frame: Frame
    pts: int  # in `time_base`
    time_base: Fraction

    @property
    def seconds(self) -> float:
        return float(self.pts * self.time_base)


@dataclass(frozen=True)
class AudioItem:
    """An audio packet to copy, or a decoded audio frame to re-encode, of audio stream `stream` (0-based)."""

    stream: int
    payload: Any  # av.Packet (copy) or av.AudioFrame (re-encode)


def _is_still(container: Any) -> bool:
    name = str(container.format.name)
    return any(part == "image2" or part.endswith(STILL_FORMATS) for part in name.split(","))


class VideoReader:
    """One open input. Not thread-safe: the decoder thread owns it once decoding starts."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        if not self.path.exists():
            raise InputError(f"{self.path} does not exist")
        if not self.path.is_file():
            raise InputError(f"{self.path} is not a file")
        try:
            self._container: Any = av.open(str(self.path), "r")
        except (av.FFmpegError, OSError, UnicodeDecodeError) as exc:
            raise InputError(f"{self.path} is not a video FFmpeg can read ({_reason(exc)})") from exc
        try:
            self.info = self._probe()
        except BaseException:
            self._container.close()
            raise

    def _probe(self) -> VideoInfo:
        c = self._container
        if not c.streams.video:
            raise InputError(f"{self.path} has no video stream")
        if _is_still(c):
            raise InputError(f"{self.path} is a still image, not a video")
        vs = c.streams.video[0]
        cc = vs.codec_context
        if not cc.width or not cc.height:
            raise InputError(f"{self.path}: its video stream has no frame size (unsupported codec?)")
        rate = vs.average_rate or vs.guessed_rate or vs.base_rate
        rate = Fraction(rate) if rate else Fraction(30)
        time_base = Fraction(vs.time_base) if vs.time_base else 1 / rate
        duration: float | None = None
        if vs.duration is not None:
            duration = float(vs.duration * time_base)
        elif c.duration is not None:
            duration = c.duration / av.time_base
        frames: int | None = int(vs.frames) if vs.frames else None
        if frames is None and duration:
            frames = max(1, round(duration * float(rate)))
        return VideoInfo(
            path=self.path,
            width=int(cc.width),
            height=int(cc.height),
            rate=rate,
            time_base=time_base,
            frames=frames,
            duration_s=duration,
            codec=str(cc.name),
            audio_codecs=tuple(str(a.codec_context.name) for a in c.streams.audio),
            container=str(c.format.name),
        )

    @property
    def video_stream(self) -> Any:
        return self._container.streams.video[0]

    @property
    def audio_streams(self) -> list[Any]:
        return list(self._container.streams.audio)

    def items(self, decode_audio: set[int] | frozenset[int] = frozenset(),
              copy_audio: set[int] | frozenset[int] = frozenset()) -> Iterator[VideoItem | AudioItem]:
        """Video frames as BGR arrays and the chosen audio streams' packets (copy) or frames (re-encode), in
        the order they are stored, so the writer can interleave them the same way."""
        c = self._container
        vs = self.video_stream
        vs.thread_type = "AUTO"  # frame threads: decoding keeps up with the encoder and the inference
        audio = self.audio_streams
        wanted = [vs] + [audio[i] for i in sorted(decode_audio | copy_audio)]
        index_of = {s.index: i for i, s in enumerate(audio)}
        tb = self.info.time_base
        step = max(1, round(1 / (self.info.rate * tb))) if tb else 1
        last_pts: int | None = None
        n = 0
        try:
            for packet in c.demux(wanted):
                if packet.stream.type == "audio":
                    yield from _audio_items(packet, index_of[packet.stream.index], copy_audio)
                    continue
                for vframe in packet.decode():
                    pts = vframe.pts
                    if pts is None:  # some AVI/raw streams: stamp by position at the average rate
                        pts = (last_pts + step) if last_pts is not None else 0
                    last_pts = pts
                    yield VideoItem(n, to_bgr(vframe), int(pts), tb)
                    n += 1
        except av.FFmpegError as exc:
            raise InputError(f"{self.path}: decoding failed at frame {n} ({_reason(exc)})") from exc
        if n == 0:
            raise InputError(f"{self.path} has no decodable video frames")

    def video_packets(self) -> Iterator[Any]:
        """The video stream's packets in decode order, undecoded (the empty packets that mark the end are
        left out)."""
        for packet in self._container.demux(self.video_stream):
            if packet.size:
                yield packet

    def audio_items(self, decode_audio: set[int] | frozenset[int] = frozenset(),
                    copy_audio: set[int] | frozenset[int] = frozenset()) -> Iterator[AudioItem]:
        """Only the chosen audio streams, as `items` gives them, without decoding the video."""
        audio = self.audio_streams
        wanted = [audio[i] for i in sorted(decode_audio | copy_audio)]
        if not wanted:
            return
        index_of = {s.index: i for i, s in enumerate(audio)}
        try:
            for packet in self._container.demux(wanted):
                yield from _audio_items(packet, index_of[packet.stream.index], copy_audio)
        except av.FFmpegError as exc:
            raise InputError(f"{self.path}: reading its audio failed ({_reason(exc)})") from exc

    def close(self) -> None:
        self._container.close()

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _reason(exc: BaseException) -> str:
    return str(getattr(exc, "strerror", None) or exc)


def probe(path: str | os.PathLike[str]) -> VideoInfo:
    """What a video holds; InputError when it is not a video FFmpeg can read."""
    with VideoReader(path) as reader:
        return reader.info


def is_video(path: str | os.PathLike[str]) -> bool:
    try:
        probe(path)
    except InputError:
        return False
    return True


def _audio_items(packet: Any, stream: int, copy_audio: set[int] | frozenset[int]) -> Iterator[AudioItem]:
    """An audio packet as items: itself when its stream is copied (not the empty ones that end a stream), else
    its decoded frames."""
    if stream in copy_audio:
        if packet.size and packet.dts is not None:
            yield AudioItem(stream, packet)
    else:
        for aframe in packet.decode():
            yield AudioItem(stream, aframe)
