"""A video cut at keyframes into chunks that workers elsewhere can swap on their own, and one chunk swapped.

The plan reads packet headers only (no decoding). Chunk i holds the frames shown in [start_i, start_i+1)
where each start is a keyframe's presentation time; its packets (stream-copied into a small NUT file, which
any codec fits) run in decode order from that keyframe to the next, plus, for open GOPs, the next GOP's
leading pictures that are shown before the next keyframe. A worker decodes its chunk, keeps the frames in
its range, swaps them with a fresh processor and encodes them with the job's encoder settings into the
output's container; `join.ChunkJoiner` stream-copies the encoded chunks, in order, into one file. Every
frame keeps the presentation timestamp it had in the input. Nothing here knows about Ray."""

from __future__ import annotations

import io
import logging
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av

from app.errors import InputError, OptionError
from app.media.formats import EncoderSettings
from app.media.pipeline import FrameFunction
from app.media.reader import VideoInfo, VideoItem, VideoReader
from app.media.writer import AudioPlan, VideoWriter

log = logging.getLogger(__name__)

MIN_CHUNK_SECONDS = 0.04  # one frame at 25 fps: smaller chunks would only add start-up cost


@dataclass(frozen=True)
class ChunkSpan:
    index: int
    start_pts: int | None  # first presentation time kept (video time base); None: from the first frame
    end_pts: int | None  # exclusive; None: to the last frame
    first_packet: int  # packet range in decode order, [first_packet, last_packet)
    last_packet: int  # may reach into the next span (an open GOP's leading pictures)
    frames: int  # frames shown in [start_pts, end_pts) according to the packet headers

    def keeps(self, pts: int) -> bool:
        return (self.start_pts is None or pts >= self.start_pts) and (self.end_pts is None or pts < self.end_pts)


@dataclass(frozen=True)
class ChunkPlan:
    info: VideoInfo
    spans: tuple[ChunkSpan, ...]
    whole_file: bool  # the input cannot be cut (packets without timestamps): one chunk, the file as it is
    suffix: str  # the input's suffix, for the whole-file case

    @property
    def frames(self) -> int:
        return sum(s.frames for s in self.spans)


@dataclass(frozen=True)
class ChunkResult:
    index: int
    data: bytes  # the chunk's encoded video in the output's container (no audio)
    frames: int
    frames_with_faces: int | None
    codec: str
    seconds: float
    stage_ms: dict[str, float]


def plan_chunks(path: str | os.PathLike[str], chunk_seconds: float) -> ChunkPlan:
    """Cut points at keyframes, each chunk at least `chunk_seconds` long (the last one may be shorter)."""
    if not chunk_seconds >= MIN_CHUNK_SECONDS:  # also refuses NaN
        raise OptionError(f"chunk length must be at least {MIN_CHUNK_SECONDS} s, got {chunk_seconds}")
    with VideoReader(path) as reader:
        info = reader.info
        packets = _packet_headers(reader, path)
    suffix = Path(path).suffix
    if not packets:
        raise InputError(f"{path} has no video packets")
    if any(pts is None for pts, _ in packets):
        log.warning("%s has video packets without timestamps: it is processed as one chunk", path)
        return ChunkPlan(info, (ChunkSpan(0, None, None, 0, len(packets), len(packets)),), True, suffix)
    pts_list = [int(pts) for pts, _ in packets if pts is not None]
    limit = chunk_seconds / info.time_base  # in time-base units
    starts = [0]
    chunk_start = pts_list[0]
    shown_before = pts_list[0]  # the latest presentation time among the packets so far
    for i in range(1, len(packets)):
        pts = pts_list[i]
        # A clean cut: a keyframe shown after every frame decoded before it.
        if packets[i][1] and pts > shown_before and pts - chunk_start >= limit:
            starts.append(i)
            chunk_start = pts
        shown_before = max(shown_before, pts)
    spans = []
    for n, first in enumerate(starts):
        nxt = starts[n + 1] if n + 1 < len(starts) else None
        start_pts = None if n == 0 else pts_list[first]
        end_pts = None if nxt is None else pts_list[nxt]
        last = len(packets) if nxt is None else _leading_end(packets, pts_list, nxt)
        frames = sum(1 for p in pts_list if (start_pts is None or p >= start_pts) and (end_pts is None or p < end_pts))
        spans.append(ChunkSpan(n, start_pts, end_pts, first, last, frames))
    return ChunkPlan(info, tuple(spans), False, suffix)


def _packet_headers(reader: VideoReader, path: str | os.PathLike[str]) -> list[tuple[int | None, bool]]:
    try:
        return [(p.pts, bool(p.is_keyframe)) for p in reader.video_packets()]
    except av.FFmpegError as exc:
        raise InputError(f"{path}: reading its packets failed ({exc})") from exc


def _leading_end(packets: list[tuple[int | None, bool]], pts_list: list[int], cut: int) -> int:
    """End of the packets the chunk before `cut` must decode: past any picture after the cut's keyframe (in
    decode order, up to the next keyframe) that is shown before it."""
    end = cut
    for j in range(cut + 1, len(packets)):
        if packets[j][1]:
            break
        if pts_list[j] < pts_list[cut]:
            end = j + 1
    return end


def chunk_inputs(path: str | os.PathLike[str], plan: ChunkPlan) -> Iterator[bytes]:
    """Each chunk's packets as a NUT file (the whole input for a whole-file plan), in order, from one
    reading pass over the input."""
    if plan.whole_file:
        yield Path(path).read_bytes()
        return
    spans = plan.spans
    open_: dict[int, _PacketFile] = {}
    next_span = 0
    index = 0
    with VideoReader(path) as reader:
        stream = reader.video_stream
        for packet in reader.video_packets():
            while next_span < len(spans) and spans[next_span].first_packet == index:
                open_[next_span] = _PacketFile(stream)
                next_span += 1
            for n, out in open_.items():
                if index < spans[n].last_packet:
                    out.add(packet)
            index += 1
            while open_ and spans[min(open_)].last_packet <= index:
                yield open_.pop(min(open_)).finish()
    for n in sorted(open_):
        yield open_.pop(n).finish()


class _PacketFile:
    """Packets stream-copied into an in-memory NUT file (any codec; timestamps kept exactly)."""

    def __init__(self, template: Any) -> None:
        self._buffer = io.BytesIO()
        # The muxer would shift every timestamp to make the B-frame delay's negative decode times positive.
        self._container: Any = av.open(self._buffer, "w", format="nut", options={"avoid_negative_ts": "disabled"})
        self._stream = self._container.add_stream_from_template(template)

    def add(self, packet: Any) -> None:
        # A copy: muxing takes the packet's data, and a packet may belong to two chunks.
        copy = av.Packet(bytes(packet))
        copy.pts, copy.dts, copy.duration = packet.pts, packet.dts, packet.duration
        copy.time_base = packet.time_base
        copy.is_keyframe = packet.is_keyframe
        copy.stream = self._stream
        self._container.mux(copy)

    def finish(self) -> bytes:
        self._container.close()
        return self._buffer.getvalue()


def swap_chunk(
    data: bytes,
    span: ChunkSpan,
    plan: ChunkPlan,
    processor: FrameFunction,
    settings: EncoderSettings,
    container_suffix: str,
    on_frame: Callable[[int], None] | None = None,
) -> ChunkResult:
    """Decode one chunk, pass the frames in its range through `processor` in order, and encode them (video
    only) into the output's container with the input's timestamps."""
    from app.media.swap_job import frames_with_faces

    started = time.perf_counter()
    spent = {"decode": 0.0, "process": 0.0, "encode": 0.0}
    with tempfile.TemporaryDirectory(prefix="dlc-chunk-") as tmp:
        source = Path(tmp) / ("in" + (plan.suffix if plan.whole_file else ".nut"))
        source.write_bytes(data)
        target = Path(tmp) / ("out" + container_suffix)
        writer = VideoWriter(target, _Stream(plan.info), settings, AudioPlan(frozenset(), frozenset()))
        done = 0
        try:
            with VideoReader(source) as reader:
                scale = reader.info.time_base / plan.info.time_base
                t0 = time.perf_counter()
                for item in reader.items():
                    if not isinstance(item, VideoItem):
                        continue
                    pts = _rescale(item.pts, scale)
                    if not span.keeps(pts):
                        continue
                    t1 = time.perf_counter()
                    out = processor(item.frame, float(pts * plan.info.time_base))
                    if out.shape != item.frame.shape or out.dtype != item.frame.dtype:
                        raise ValueError(f"the frame processor changed a frame to {out.shape} {out.dtype}")
                    t2 = time.perf_counter()
                    writer.write_frame(out, pts)
                    t3 = time.perf_counter()
                    spent["decode"] += t1 - t0
                    spent["process"] += t2 - t1
                    spent["encode"] += t3 - t2
                    done += 1
                    if on_frame is not None:
                        on_frame(done)
                    t0 = time.perf_counter()
            writer.close()
            writer.commit()
        except BaseException:
            writer.abort()
            raise
        encoded = target.read_bytes()
    return ChunkResult(span.index, encoded, done, frames_with_faces(processor), writer.codec,
                       time.perf_counter() - started, {k: v * 1000.0 / max(done, 1) for k, v in spent.items()})


def _rescale(pts: int, scale: Fraction) -> int:
    return int(round(pts * scale)) if scale != 1 else pts


@dataclass(frozen=True)
class _Stream:
    """What VideoWriter needs to know about its input: the original video's size, rate and time base (a
    chunk file's own header may differ), and no audio."""

    info: VideoInfo

    @property
    def audio_streams(self) -> list[Any]:
        return []
