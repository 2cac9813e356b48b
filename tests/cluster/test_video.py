"""Videos on a local Ray instance (2 CPUs, stand-in models): a clip with audio cut into 3 chunks and swapped
on two workers gives the file the single-machine job gives (frames, rate, size, timestamps, audio) with the
faces swapped in every chunk; a worker killed mid-chunk has its chunk retried; cancel leaves nothing."""

from __future__ import annotations

import os
import signal
import threading
from typing import Any

import numpy as np
import pytest

from app.cli import main
from app.cluster.video import RayVideoOptions, swap_video_on_ray
from app.core.options import SwapOptions
from app.core.processor import FrameProcessor
from app.core.tracker import Tracker
from app.media import EncoderSettings, Progress, VideoCancelled, process_video
from app.media.swap_job import SwapJob
from tests.cluster.ray_helpers import SlowSwapJob
from tests.media import test_video
from tests.media.gop_clip import GOP, write_gop_clip
from tests.media.test_video import FRAMES, RATE, inner, leftovers, read_clip

setup = test_video.setup  # the module-scoped fixture: models with the tracking detector, frames, truths

FAST = EncoderSettings(preset="ultrafast")
THREE_CHUNKS = RayVideoOptions(chunk_seconds=0.3, workers=2)


@pytest.fixture(scope="module")
def clip(setup: dict[str, Any]) -> dict[str, Any]:
    path = setup["root"] / "gop_ray.mp4"
    length = write_gop_clip(path, setup["frames"])
    return {"path": path, "length": length, "decoded": read_clip(path)["frames"],
            "job": SwapJob(setup["models"], None, setup["source"].read_bytes(), SwapOptions())}


def swapped_share(setup: dict[str, Any], original: list[np.ndarray], written: list[np.ndarray],
                  frames: range) -> float:
    """Share of the faces (inner boxes) in `frames` that differ strongly from the input (the stand-in
    swapper inverts faces)."""
    swapped = total = 0
    for i in frames:
        for face in setup["truths"][i]:
            ys, xs = inner(face.box)
            if xs.start < 0 or ys.start < 0 or xs.stop > written[i].shape[1] or ys.stop > written[i].shape[0]:
                continue
            total += 1
            swapped += np.abs(written[i][ys, xs].astype(int) - original[i][ys, xs]).mean() > 30
    return swapped / max(total, 1)


def test_chunks_on_two_workers_match_the_single_machine_job(ray_local, setup, clip, tmp_path):
    single, cluster = tmp_path / "single.mp4", tmp_path / "ray.mp4"
    engine = setup["engine"]
    frames = FrameProcessor(engine, Tracker()).video_frames(setup["face_source"], SwapOptions())
    process_video(clip["path"], single, frames, FAST)
    seen: list[Progress] = []
    report = swap_video_on_ray(clip["path"], cluster, clip["job"], FAST, progress=seen.append, options=THREE_CHUNKS)
    a, b = read_clip(cluster), read_clip(single)
    assert report.chunks == 3 and report.workers == 2 and report.frames == FRAMES
    assert len(a["frames"]) == len(b["frames"]) == FRAMES
    assert a["rate"] == b["rate"] == RATE and a["size"] == b["size"] == (640, 360)
    assert a["times"] == pytest.approx(b["times"], abs=1e-6)
    assert len(a["audio"]) == 1 and report.audio_copied == 1
    assert a["audio"][0] == pytest.approx(b["audio"][0], abs=1e-6)
    assert a["audio"][0] == pytest.approx(clip["length"], abs=1 / float(RATE))
    for start in range(0, FRAMES, GOP):  # every chunk started its own tracker and found the faces
        assert swapped_share(setup, clip["decoded"], a["frames"], range(start, start + GOP)) > 0.9
    assert report.frames_with_faces == FRAMES
    assert seen[-1].done == seen[-1].total == FRAMES and seen[-1].eta_s == 0.0
    assert [p.done for p in seen] == sorted(p.done for p in seen)  # no worker died: never backwards
    assert leftovers(tmp_path) == []


def test_a_worker_killed_mid_chunk_has_its_chunk_retried(ray_local, setup, clip, tmp_path):
    pids = tmp_path / "pids"
    pids.mkdir()
    job = SlowSwapJob(setup["models"], None, setup["source"].read_bytes(), SwapOptions(), pids=pids, delay_s=0.15)
    killed: list[int] = []

    def kill_one(p: Progress) -> None:
        started = sorted(pids.iterdir())
        if not killed and started and 0 < p.done < FRAMES // 2:
            pid = int(started[0].name.split("-")[1])
            os.kill(pid, signal.SIGKILL)  # a real worker process death, not a simulated one
            killed.append(pid)

    out = tmp_path / "out.mp4"
    report = swap_video_on_ray(clip["path"], out, job, FAST, progress=kill_one,
                               options=RayVideoOptions(chunk_seconds=0.3, workers=2, max_retries=2))
    assert killed and report.retried_chunks, "no worker was killed mid-chunk"
    starts = [p.name for p in pids.iterdir()]
    assert len(starts) > 3  # the killed chunk started again, in a new process
    assert any(int(name.split("-")[1]) != killed[0] and name.split("-")[0] == sorted(starts)[0].split("-")[0]
               for name in starts)
    written = read_clip(out)
    assert len(written["frames"]) == FRAMES and written["times"] == pytest.approx(read_clip(clip["path"])["times"])
    assert swapped_share(setup, clip["decoded"], written["frames"], range(FRAMES)) > 0.9
    assert leftovers(tmp_path) == []


def test_cancel_stops_the_workers_and_leaves_nothing(ray_local, setup, clip, tmp_path):
    job = SlowSwapJob(setup["models"], None, setup["source"].read_bytes(), SwapOptions(),
                      pids=tmp_path, delay_s=0.2)
    out = tmp_path / "out" / "video.mp4"
    out.parent.mkdir()
    out.write_bytes(b"an older video")
    cancel = threading.Event()

    def on_progress(p: Progress) -> None:
        if p.done >= 2:
            cancel.set()

    with pytest.raises(VideoCancelled):
        swap_video_on_ray(clip["path"], out, job, FAST, progress=on_progress, cancel=cancel, options=THREE_CHUNKS)
    assert out.read_bytes() == b"an older video"
    assert leftovers(out.parent) == []


def test_cli_swaps_a_video_on_ray(ray_local, setup, clip, tmp_path, capsys):
    out = tmp_path / "cli.mkv"
    code = main(["swap", str(setup["source"]), str(clip["path"]), "-o", str(out), "--ray", "--chunk-seconds", "0.3",
                 "--models-dir", str(setup["models"]), "--video-preset", "ultrafast"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert f"swapped faces in {FRAMES} of {FRAMES} frames" in captured.out and "3 chunks" in captured.out
    assert len(read_clip(out)["frames"]) == FRAMES
    assert main(["swap", str(setup["source"]), str(clip["path"]), "-o", str(tmp_path / "o.avi"), "--ray",
                 "--models-dir", str(setup["models"])]) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cli.mkv"]
