"""Cutting a video at keyframes and joining the swapped chunks, without Ray: the chunks, swapped one by one
and joined, make the same file (frames, timestamps, audio) as the single-machine pipeline."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from app.errors import InputError, OptionError
from app.media import EncoderSettings, process_video
from app.media.chunks import chunk_inputs, plan_chunks, swap_chunk
from app.media.join import ChunkJoiner
from tests.media import test_video
from tests.media.gop_clip import GOP, write_gop_clip
from tests.media.test_video import FRAMES, read_clip

setup = test_video.setup  # the module-scoped fixture: models, frames, truths

FAST = EncoderSettings(preset="ultrafast")


@pytest.fixture(scope="module")
def gop_clip(setup: dict[str, Any]) -> Path:
    path = setup["root"] / "gop.mp4"
    if not path.exists():
        write_gop_clip(path, setup["frames"])
    return path


def join_locally(clip: Path, out: Path, chunk_seconds: float, process: Any = None) -> list[int]:
    plan = plan_chunks(clip, chunk_seconds)
    joiner = ChunkJoiner(out, clip)
    counts = []
    try:
        for data, span in zip(chunk_inputs(clip, plan), plan.spans, strict=True):
            result = swap_chunk(data, span, plan, process or (lambda f, t: f), FAST, out.suffix)
            counts.append(result.frames)
            joiner.add(result.data)
        joiner.commit()
    except BaseException:
        joiner.abort()
        raise
    return counts


def test_the_plan_cuts_at_keyframes_at_least_chunk_seconds_apart(gop_clip):
    plan = plan_chunks(gop_clip, 0.3)  # a keyframe every 8 frames = 0.32 s
    assert [s.frames for s in plan.spans] == [GOP, GOP, GOP] and plan.frames == FRAMES
    assert plan.spans[0].start_pts is None and plan.spans[-1].end_pts is None
    tb = plan.info.time_base
    assert [float(s.start_pts * tb) for s in plan.spans[1:]] == pytest.approx([0.32, 0.64])
    assert all(a.end_pts == b.start_pts for a, b in zip(plan.spans, plan.spans[1:], strict=False))
    assert [len(s.spans) for s in (plan_chunks(gop_clip, 0.5), plan_chunks(gop_clip, 60.0))] == [2, 1]
    for bad in (0.0, -1.0, float("nan")):
        with pytest.raises(OptionError, match="chunk length"):
            plan_chunks(gop_clip, bad)
    with pytest.raises(InputError):
        plan_chunks(gop_clip.parent / "missing.mp4", 1.0)


@pytest.mark.parametrize("suffix", [".mp4", ".mkv", ".webm"])
def test_chunks_joined_equal_the_single_machine_output(gop_clip, tmp_path, suffix):
    joined, single = tmp_path / f"joined{suffix}", tmp_path / f"single{suffix}"
    assert join_locally(gop_clip, joined, 0.3) == [GOP, GOP, GOP]
    process_video(gop_clip, single, lambda f, t: f, FAST)
    a, b = read_clip(joined), read_clip(single)
    assert len(a["frames"]) == len(b["frames"]) == FRAMES
    assert a["rate"] == b["rate"] and a["size"] == b["size"]
    assert a["times"] == pytest.approx(b["times"], abs=1e-6)
    assert a["audio"] == pytest.approx(b["audio"], abs=1e-6) and a["audio_codecs"] == b["audio_codecs"]
    for x, y in zip(a["frames"], b["frames"], strict=True):
        assert np.abs(x.astype(int) - y).mean() < 2  # separate encodes of the same frames
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([joined.name, single.name])


def test_each_chunk_gets_its_frames_with_their_input_times(gop_clip, tmp_path):
    seen: list[float] = []
    join_locally(gop_clip, tmp_path / "o.mp4", 0.3, lambda f, t: seen.append(t) or f)
    assert seen == pytest.approx([i / 25 for i in range(FRAMES)])


def test_avi_cannot_hold_a_joined_video_and_nothing_is_left(gop_clip, tmp_path):
    with pytest.raises(OptionError, match="timestamps"):
        ChunkJoiner(tmp_path / "o.avi", gop_clip)
    joiner = ChunkJoiner(tmp_path / "o.mp4", gop_clip)
    joiner.abort()
    assert list(tmp_path.iterdir()) == []


def test_a_failing_chunk_leaves_nothing(gop_clip, tmp_path):
    def crash(frame, t):
        if t > 0.5:
            raise RuntimeError("boom")
        return frame

    with pytest.raises(RuntimeError, match="boom"):
        join_locally(gop_clip, tmp_path / "o.mp4", 0.3, crash)
    assert list(tmp_path.iterdir()) == []
