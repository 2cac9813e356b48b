"""What a video swap prints, one way for one machine and for a Ray cluster: a progress bar with the frames
done and the time left, and a summary line."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from app.media import Progress, VideoInfo


def progress_bar(info: VideoInfo) -> tuple[Callable[[Progress], None], Callable[[], None]]:
    """A tqdm bar on stderr: the progress callback for process_video and its closer."""
    from tqdm import tqdm

    bar = tqdm(total=info.frames, unit="frame", desc="swapping", dynamic_ncols=True, file=sys.stderr)

    def on_progress(p: Progress) -> None:
        if p.total is not None and p.total != bar.total:
            bar.total = p.total
        bar.update(p.done - bar.n)

    return on_progress, bar.close


def print_summary(report: Any, info: VideoInfo, target: str, output: Any, faces: int | None, extra: str = "") -> None:
    """The result in one line (and a warning when no frame had a face)."""
    if faces == 0:
        print(f"warning: no face found in any frame of {target}; the video was copied unchanged", file=sys.stderr)
    audio = "audio copied" if report.audio_copied else "audio re-encoded" if report.audio_encoded else "no audio"
    print(f"swapped faces in {faces if faces is not None else '?'} of {report.frames} frames -> {output} "
          f"({info.width}x{info.height}, {info.fps:.3f} fps, {report.codec}, {audio}; {report.fps:.1f} frames/s"
          f"{extra})")
