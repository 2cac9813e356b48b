"""Whole videos: a short clip made here from real photo content (t1.jpg panned) with an AAC sine track goes
through the pipeline and the `swap` command with stand-in models; frame count, rate, size, audio and swapped
faces are checked on the file written, and cancel, crash and Ctrl+C leave nothing under the output name."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np
import pytest

from app.cli import main
from app.core.engine import Engine
from app.core.options import SwapOptions
from app.core.processor import FrameProcessor
from app.core.sessions import ModelSet
from app.core.tracker import Tracker
from app.errors import InputError, OptionError, OutputError
from app.media import EncoderSettings, Progress, VideoCancelled, process_video
from app.media.colour import from_bgr
from tests.standins import TrackingScene

RATE = Fraction(25)
FRAMES = 24
PAN = [(3 * i, 0) for i in range(FRAMES)]  # 3 px per frame to the right
SAMPLE_RATE = 44100
ROOT = Path(__file__).resolve().parents[2]


def write_clip(
    path: Path,
    frames: list[np.ndarray],
    rate: Fraction = RATE,
    audio: str | None = "aac",
    times: list[float] | None = None,
    x264: dict[str, str] | None = None,
) -> float:
    """Encode `frames` (BGR) at `rate` (or at the given `times`, seconds: a variable rate) with a 440 Hz sine
    track as long as the video; returns the video's length in seconds. `x264`: the encoder's options."""
    out = av.open(str(path), "w")
    vs = out.add_stream("libx264", rate=rate, options=x264 or {"preset": "ultrafast", "crf": "10"})
    vs.height, vs.width = frames[0].shape[:2]
    vs.pix_fmt = "yuv420p"
    tb = Fraction(1, 90000) if times is not None else 1 / rate
    vs.codec_context.time_base = tb
    stamps = times if times is not None else [i / float(rate) for i in range(len(frames))]
    length = stamps[-1] + 1 / float(rate)
    astream = None
    if audio:
        astream = out.add_stream(audio, rate=SAMPLE_RATE)
        astream.layout = "mono"
    for image, t in zip(frames, stamps, strict=True):
        vf = from_bgr(image, "yuv420p")  # FFmpeg's default conversion would darken it by ~2 levels
        vf.pts, vf.time_base = round(t / tb), tb
        out.mux(vs.encode(vf))
    out.mux(vs.encode(None))
    if astream is not None:
        n = round(length * SAMPLE_RATE)
        wave = (0.3 * np.sin(2 * np.pi * 440 * np.arange(n) / SAMPLE_RATE)).astype(np.float32)
        for start in range(0, n, 1024):
            af = av.AudioFrame.from_ndarray(wave[None, start : start + 1024], format="flt", layout="mono")
            af.sample_rate, af.pts, af.time_base = SAMPLE_RATE, start, Fraction(1, SAMPLE_RATE)
            out.mux(astream.encode(af))
        out.mux(astream.encode(None))
    out.close()
    return length


def read_clip(path: Path) -> dict[str, Any]:
    """Frames (BGR), their times, the video's rate and size, and each audio stream's length in seconds."""
    with av.open(str(path)) as c:
        vs = c.streams.video[0]
        info: dict[str, Any] = {"rate": vs.average_rate, "size": (vs.codec_context.width, vs.codec_context.height)}
        audio_ends = {s.index: 0.0 for s in c.streams.audio}
        audio_starts: dict[int, float] = {}
        frames, times = [], []
        for packet in c.demux():
            if packet.stream.type == "audio" and packet.pts is not None:
                start = float(packet.pts * packet.time_base)
                audio_starts.setdefault(packet.stream.index, start)
                end = start + float(packet.duration * packet.time_base)
                audio_ends[packet.stream.index] = max(audio_ends[packet.stream.index], end)
            elif packet.stream.type == "video":
                for f in packet.decode():
                    frames.append(f.to_ndarray(format="bgr24"))
                    times.append(float(f.time))
        info["audio"] = [audio_ends[i] - audio_starts.get(i, 0.0) for i in sorted(audio_ends)]
        info["audio_codecs"] = [s.codec_context.name for s in c.streams.audio]
    info["frames"], info["times"] = frames, times
    return info


@pytest.fixture(scope="module")
def setup(tmp_path_factory, standin_models_dir: Path, standin_tracking: TrackingScene) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("video")
    models = root / "models"
    shutil.copytree(standin_models_dir, models)
    shutil.copy(standin_tracking.detector, models / "buffalo_l" / "det_10g.onnx")
    frames, truths = zip(*(standin_tracking.frame(dx, dy) for dx, dy in PAN), strict=True)
    clip = root / "clip.mp4"
    length = write_clip(clip, list(frames))
    source = root / "source.png"
    cv2.imwrite(str(source), frames[0])
    engine = Engine(ModelSet(models))
    return {"root": root, "models": models, "clip": clip, "length": length, "frames": list(frames),
            "truths": list(truths), "source": source, "engine": engine, "decoded": read_clip(clip)["frames"],
            "face_source": engine.prepare_source(frames[0])}


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".") or p.suffix == ".part")


def inner(box: tuple[float, float, float, float], shrink: float = 0.25) -> tuple[slice, slice]:
    x1, y1, x2, y2 = box
    dx, dy = (x2 - x1) * shrink, (y2 - y1) * shrink
    return slice(int(y1 + dy), int(y2 - dy)), slice(int(x1 + dx), int(x2 - dx))


def assert_faces_swapped(setup: dict[str, Any], written: list[np.ndarray]) -> None:
    """The stand-in swapper inverts faces: each face region differs strongly from the input, while pixels
    far from every face differ only by compression noise."""
    assert len(written) == FRAMES
    swapped = total = 0
    for out, original, truth in zip(written, setup["decoded"], setup["truths"], strict=True):
        far = np.ones(out.shape[:2], bool)
        for face in truth:
            x1, y1, x2, y2 = (int(v) for v in face.box)
            w, h = x2 - x1, y2 - y1
            far[max(0, y1 - h) : y2 + h, max(0, x1 - w) : x2 + w] = False
        assert np.abs(out[far].astype(int) - original[far]).mean() < 3
        for face in truth:
            ys, xs = inner(face.box)
            if xs.start < 0 or xs.stop > out.shape[1] or ys.start < 0 or ys.stop > out.shape[0]:
                continue
            total += 1
            swapped += np.abs(out[ys, xs].astype(int) - original[ys, xs]).mean() > 30
    assert total >= 4 * FRAMES and swapped / total > 0.9, (swapped, total)


def test_swapped_video_keeps_frames_rate_size_and_audio(setup, tmp_path):
    out = tmp_path / "out.mp4"
    processor = FrameProcessor(setup["engine"], Tracker())
    seen: list[Progress] = []
    frames = processor.video_frames(setup["face_source"], SwapOptions())
    report = process_video(setup["clip"], out, frames, progress=seen.append)
    written = read_clip(out)
    original = read_clip(setup["clip"])
    assert report.frames == len(written["frames"]) == FRAMES
    assert written["rate"] == RATE and written["size"] == (640, 360)
    assert written["times"] == pytest.approx(original["times"], abs=1e-6)
    assert len(written["audio"]) == 1 and report.audio_copied == 1
    assert written["audio"][0] == pytest.approx(setup["length"], abs=1 / float(RATE))
    assert written["audio"][0] == pytest.approx(original["audio"][0], abs=1e-6)  # copied, not re-encoded
    assert_faces_swapped(setup, written["frames"])
    # tracked, not detected on every frame, and the same faces (ids) all along
    assert processor.tracker.detection_ratio < 0.5 and processor.frames_with_faces == FRAMES
    ids = processor.tracker.track_ids()  # no face was lost and found again as a new track
    assert len(ids) >= 4 and max(ids) <= len(setup["truths"][0])
    assert [p.done for p in seen] == [*range(1, FRAMES + 1), FRAMES]
    assert all(p.total == FRAMES for p in seen) and seen[-1].eta_s == 0.0
    assert leftovers(tmp_path) == []


def test_audio_reencoded_when_asked_and_variable_rate_kept(setup, tmp_path):
    times = [0.0]
    for i in range(1, 12):
        times.append(times[-1] + (0.02 if i % 2 else 0.06))  # alternating 50 and ~17 fps
    clip = tmp_path / "vfr.mkv"
    write_clip(clip, setup["frames"][:12], times=times)
    out = tmp_path / "vfr_out.mp4"
    report = process_video(clip, out, lambda frame, t: frame, EncoderSettings(preset="ultrafast"), audio="encode")
    written = read_clip(out)
    assert report.audio_encoded == 1 and written["audio_codecs"] == ["aac"]
    assert written["times"] == pytest.approx(times, abs=1e-3)
    assert written["audio"][0] == pytest.approx(read_clip(clip)["audio"][0], abs=1 / 25)


@pytest.mark.parametrize("suffix", [".mkv", ".webm", ".mov"])
def test_other_containers_and_codecs(setup, tmp_path, suffix):
    out = tmp_path / f"out{suffix}"
    settings = EncoderSettings(codec="mpeg4" if suffix == ".mov" else None, preset="ultrafast", quality=23)
    report = process_video(setup["clip"], out, lambda frame, t: frame, settings)
    written = read_clip(out)
    assert len(written["frames"]) == FRAMES and written["size"] == (640, 360)
    assert report.codec == {".mkv": "libx264", ".webm": "libvpx-vp9", ".mov": "mpeg4"}[suffix]
    assert written["audio_codecs"] == (["opus"] if suffix == ".webm" else ["aac"])
    assert np.abs(written["frames"][5].astype(int) - setup["frames"][5]).mean() < 6


def test_memory_stays_flat_the_decoder_runs_at_most_a_few_frames_ahead(setup, tmp_path):
    """Bounded queues: with a slow processor the decoder waits instead of piling frames up."""
    import app.media.reader as reader_mod

    decoded: list[int] = []
    ahead: list[int] = []
    processed = 0
    original = reader_mod.VideoReader.items

    def counting(self, *args, **kwargs):
        for item in original(self, *args, **kwargs):
            if isinstance(item, reader_mod.VideoItem):
                decoded.append(item.index)
            yield item

    def slow(frame, t):
        nonlocal processed
        processed += 1
        time.sleep(0.01)
        ahead.append(len(decoded) - processed)  # frames decoded but not yet processed
        return frame

    reader_mod.VideoReader.items = counting  # type: ignore[method-assign]
    try:
        process_video(setup["clip"], tmp_path / "o.mp4", slow, EncoderSettings(preset="ultrafast"), queue_size=2)
    finally:
        reader_mod.VideoReader.items = original  # type: ignore[method-assign]
    # the queue of 2 and the one frame the decoder holds while it waits for room
    assert max(ahead) <= 3, ahead


def test_cancel_part_way_leaves_nothing_and_keeps_an_older_output(setup, tmp_path):
    out = tmp_path / "out.mp4"
    out.write_bytes(b"an older video")
    cancel = threading.Event()

    def on_progress(p: Progress) -> None:
        if p.done == 5:
            cancel.set()

    processor = FrameProcessor(setup["engine"], Tracker())
    with pytest.raises(VideoCancelled):
        process_video(setup["clip"], out, processor.video_frames(setup["face_source"], SwapOptions()),
                      progress=on_progress, cancel=cancel)
    assert processor.frames <= 6
    assert out.read_bytes() == b"an older video"
    assert leftovers(tmp_path) == []
    assert not [t for t in threading.enumerate() if t.name.startswith("dlc-video")]


def test_a_crash_part_way_leaves_nothing(setup, tmp_path):
    def crash(frame, t):
        if t > 0.1:
            raise RuntimeError("boom")
        return frame

    with pytest.raises(RuntimeError, match="boom"):
        process_video(setup["clip"], tmp_path / "out.mp4", crash, cancel=lambda: False)
    assert list(tmp_path.iterdir()) == []


def test_clear_errors(setup, tmp_path):
    text = tmp_path / "notes.mp4"
    text.write_text("this is not a video")
    photo = tmp_path / "photo.png"
    cv2.imwrite(str(photo), setup["frames"][0])
    keep = lambda frame, t: frame  # noqa: E731
    for bad, message in [(text, "not a video"), (photo, "still image"), (tmp_path / "missing.mp4", "does not exist")]:
        with pytest.raises(InputError, match=message):
            process_video(bad, tmp_path / "out.mp4", keep)
    with pytest.raises(OutputError, match="does not exist"):
        process_video(setup["clip"], tmp_path / "no" / "out.mp4", keep)
    with pytest.raises(OutputError, match="unsupported video output"):
        process_video(setup["clip"], tmp_path / "out.xyz", keep)
    with pytest.raises(OptionError, match="not available"):
        process_video(setup["clip"], tmp_path / "out.mp4", keep, EncoderSettings(codec="nosuchcodec"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.mp4", "photo.png"]


# ------------------------------------------------------------------------------------------------ the CLI


def swap(setup: dict[str, Any], target: Path, out: Path, *extra: str) -> int:
    return main(["swap", str(setup["source"]), str(target), "-o", str(out), "--models-dir", str(setup["models"]),
                 *extra])


def test_cli_swaps_a_video(setup, tmp_path, capsys):
    out = tmp_path / "swapped.mp4"
    assert swap(setup, setup["clip"], out, "--video-preset", "ultrafast", "--video-quality", "20") == 0
    captured = capsys.readouterr()
    assert f"swapped faces in {FRAMES} of {FRAMES} frames" in captured.out and "audio copied" in captured.out
    assert f"{FRAMES}/{FRAMES}" in captured.err  # the progress bar reached the end
    written = read_clip(out)
    assert written["rate"] == RATE and len(written["audio"]) == 1
    assert_faces_swapped(setup, written["frames"])
    assert leftovers(tmp_path) == []


def test_cli_restore_and_codec_options(setup, tmp_path, capsys):
    out = tmp_path / "restored.mkv"
    code = swap(setup, setup["clip"], out, "--restore", "--faces", "largest", "--video-codec", "mpeg4",
                "--no-audio")
    assert code == 0, capsys.readouterr().err
    assert "mpeg4, no audio" in capsys.readouterr().out
    written = read_clip(out)
    assert len(written["frames"]) == FRAMES and written["audio"] == []


def test_cli_errors(setup, tmp_path, capsys):
    text = tmp_path / "notes.mp4"
    text.write_text("not a video")
    assert swap(setup, text, tmp_path / "o.mp4") == 4
    assert swap(setup, setup["source"], tmp_path / "o.mp4") == 4  # a photo target with a video output
    assert "still image" in capsys.readouterr().err
    assert swap(setup, setup["clip"], tmp_path / "o.png") == 6  # a video target needs a video output
    assert swap(setup, setup["clip"], tmp_path / "missing" / "o.mp4") == 6
    assert swap(setup, setup["clip"], tmp_path / "o.mp4", "--video-codec", "nosuchcodec") == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.mp4"]


def test_cli_ctrl_c_cancels_cleanly(setup, tmp_path, capsys, monkeypatch):
    calls = {"n": 0}
    original = FrameProcessor.process

    def interrupted(self, frame, source, options, timestamp=None):
        calls["n"] += 1
        if calls["n"] == 6:
            raise KeyboardInterrupt
        return original(self, frame, source, options, timestamp)

    monkeypatch.setattr(FrameProcessor, "process", interrupted)
    out = tmp_path / "out.mp4"
    assert swap(setup, setup["clip"], out) == 130
    assert "was not written" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
    assert not [t for t in threading.enumerate() if t.name.startswith("dlc-video")]


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a child process is POSIX")
def test_cli_sigint_in_a_real_process(setup, tmp_path):
    """A real Ctrl+C: SIGINT to `python -m app swap` while it writes; exit 130 and no file left."""
    long_clip = tmp_path / "long.mp4"
    frames = [setup["frames"][i % FRAMES] for i in range(400)]
    write_clip(long_clip, frames, audio=None)
    outdir = tmp_path / "out"
    outdir.mkdir()
    out = outdir / "out.mp4"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "app", "swap", str(setup["source"]), str(long_clip), "-o", str(out),
         "--models-dir", str(setup["models"]), "--video-preset", "ultrafast"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not leftovers(outdir) and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)  # some frames in
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert list(outdir.iterdir()) == []
