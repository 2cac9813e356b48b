"""Encoded chunks joined into one video with the original's audio, written atomically.

The chunks' video packets are stream-copied in order (each chunk was encoded with the same settings, so the
first chunk's codec parameters describe them all); the audio comes from the original file, read once and
copied (or re-encoded where the container needs it), interleaved with the video by time. Until `commit`,
everything goes to a temp file beside the output; `abort` removes it."""

from __future__ import annotations

import io
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import av

from app.core.atomic import temp_beside
from app.errors import OptionError, OutputError
from app.media import formats
from app.media.reader import AudioItem, VideoReader
from app.media.writer import (
    CFR_CONTAINERS,
    AudioMode,
    AudioPlan,
    add_audio_streams,
    audio_packets,
    flush_audio,
    mux,
    plan_audio,
)

log = logging.getLogger(__name__)


class ChunkJoiner:
    """Add the encoded chunks in order (`add`), then `commit` (or `abort`). Not thread-safe."""

    def __init__(self, output: str | os.PathLike[str], original: str | os.PathLike[str],
                 audio: AudioMode = "auto") -> None:
        self.output = Path(output)
        self.container_format = formats.container_for(self.output)
        if self.container_format in CFR_CONTAINERS:
            raise OptionError(f"a video made of chunks cannot be written as {self.output.suffix}: its frames carry "
                              f"no timestamps to join the chunks by; use .mp4, .mov, .mkv or .webm")
        self._reader = VideoReader(original)
        self._container: Any = None
        self.temp: Path | None = None
        try:
            self.plan: AudioPlan = plan_audio(self._reader, self.container_format, audio)
            self.temp = temp_beside(self.output)
        except BaseException:
            self._reader.close()
            raise
        self._audio: Iterator[AudioItem] = self._reader.audio_items(self.plan.encode, self.plan.copy)
        self._pending_audio: AudioItem | None = None
        self._closed = False
        self._audio_out: dict[int, Any] = {}
        self._video: Any = None
        self._last_dts: int | None = None
        self.chunks = 0
        self.packets = 0

    def _open(self, template: Any) -> None:
        assert self.temp is not None
        options = {"movflags": "+faststart"} if self.container_format in ("mp4", "mov") else {}
        try:
            self._container = av.open(str(self.temp), "w", format=self.container_format, options=options)
            self._video = self._container.add_stream_from_template(template)
            # The template's frame rate is its time base (1/12800 ...); Matroska would store that as the rate.
            self._video.codec_context.framerate = self._reader.info.rate
            self._audio_out = add_audio_streams(self._container, self.container_format,
                                                self._reader.audio_streams, self.plan)
            self._container.start_encoding()
        except (av.FFmpegError, OSError) as exc:
            raise OutputError(f"cannot write {self.output}: {exc}") from exc

    def add(self, data: bytes) -> None:
        """The next chunk (its encoded video, in the output's container)."""
        with av.open(io.BytesIO(data), "r") as chunk:
            stream = chunk.streams.video[0]
            if self._container is None:
                self._open(stream)
            end_s = 0.0
            for packet in chunk.demux(stream):
                if not packet.size:
                    continue
                if packet.pts is not None:
                    end_s = max(end_s, float((packet.pts + (packet.duration or 0)) * packet.time_base))
                self._fix_dts(packet)
                packet.stream = self._video
                self._mux([packet])
                self.packets += 1
        self.chunks += 1
        self._audio_until(end_s)

    def _fix_dts(self, packet: Any) -> None:
        # Each chunk's encoder starts its decode times a little before its first frame (the B-frame delay),
        # and containers that store no decode times (Matroska, NUT) give none for the first packets. The
        # muxer needs them increasing and never past the presentation time: where a chunk's would not
        # follow the previous chunk's last one, or are missing, they are moved up by one tick.
        dts = packet.dts
        if dts is None:
            dts = self._last_dts + 1 if self._last_dts is not None else packet.pts
        elif self._last_dts is not None and dts <= self._last_dts:
            dts = self._last_dts + 1
        if dts is None:
            return
        if packet.pts is not None and dts > packet.pts:
            raise OutputError(f"cannot join the chunks of {self.output}: their decode times overlap")
        packet.dts = dts
        self._last_dts = dts

    def _audio_until(self, end_s: float | None) -> None:
        """Mux the original's audio up to `end_s` seconds (None: all the rest)."""
        while True:
            item = self._pending_audio or next(self._audio, None)
            self._pending_audio = None
            if item is None:
                return
            t = _seconds(item.payload)
            if end_s is not None and t is not None and t >= end_s:
                self._pending_audio = item
                return
            self._mux(audio_packets(self._audio_out, self.plan.encode, item))

    def _mux(self, packets: list[Any]) -> None:
        mux(self._container, packets, self.output)

    def commit(self) -> Path:
        """Write the rest of the audio, close, and rename the temp file to the output name."""
        if self._container is None:
            raise OutputError(f"cannot write {self.output}: no chunk was joined")
        assert self.temp is not None
        try:
            self._audio_until(None)
            self._mux(flush_audio(self._audio_out, self.plan.encode))
            self._container.close()
            self._container = None
            os.replace(self.temp, self.output)
        except av.FFmpegError as exc:
            self.abort()
            raise OutputError(f"finishing {self.output} failed: {exc}") from exc
        except OSError as exc:
            self.abort()
            raise OutputError(f"cannot write {self.output}: {exc.strerror or exc}") from exc
        except BaseException:
            self.abort()
            raise
        finally:
            self._close_reader()
        return self.output

    def abort(self) -> None:
        """Drop everything: nothing is left under the output name or the temp name."""
        if self._container is not None:
            try:
                self._container.close()
            except Exception:  # a half-written muxer may fail to write its trailer; the file goes anyway
                log.debug("closing the unfinished %s failed", self.temp, exc_info=True)
            self._container = None
        if self.temp is not None:
            self.temp.unlink(missing_ok=True)
        self._close_reader()

    def _close_reader(self) -> None:
        if not self._closed:
            self._closed = True
            self._reader.close()


def _seconds(payload: Any) -> float | None:
    pts = getattr(payload, "pts", None)
    tb = getattr(payload, "time_base", None)
    if pts is None or tb is None:
        return None
    return float(pts * tb)
