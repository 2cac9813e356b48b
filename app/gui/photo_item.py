"""One photo or video in the Photos tab: what it is, where it stands, what came of it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from app.core.types import Frame
from app.gui.video_jobs import is_video_path, video_output_name


@dataclass(eq=False)  # compared by identity: the frames are arrays
class PhotoItem:
    path: Path
    state: str = "queued"  # queued, working, done, failed, cancelled
    before: Frame | None = None  # for a video: its first frame
    after: Frame | None = None
    faces: int = 0  # for a video: frames with a face swapped
    error: str = ""
    output: Path | None = None  # a video's written file
    frames: int = 0  # a video's frames written

    @property
    def is_video(self) -> bool:
        return is_video_path(self.path)

    @property
    def output_name(self) -> str:
        return video_output_name(self.path) if self.is_video else f"{self.path.stem}_swapped.png"

    @property
    def status(self) -> str:
        """One line for the list: where the item stands, or what came of it."""
        if self.state == "queued":
            return "waiting"
        if self.state == "working":
            return "working\u2026"
        if self.state in ("failed", "cancelled"):
            return self.error or self.state
        if self.is_video:
            name = self.output.name if self.output is not None else self.output_name
            return f"faces in {self.faces} of {self.frames} frames \u2192 {name}"
        return f"{self.faces} face(s) swapped" if self.faces else "no face found"
