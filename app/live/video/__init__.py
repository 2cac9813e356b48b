"""Whole videos through the engine: decode and encode with PyAV (FFmpeg inside the wheel), frames in a
bounded pipeline, faces tracked across frames, audio kept, atomic output."""

from app.live.video.formats import VIDEO_SUFFIXES, EncoderSettings
from app.live.video.pipeline import FrameProcessor, Progress, VideoCancelled, VideoReport, process_video
from app.live.video.reader import VideoInfo, VideoReader, is_video, probe
from app.live.video.swap import TrackedSwap
from app.live.video.writer import AudioMode

__all__ = [
    "VIDEO_SUFFIXES",
    "AudioMode",
    "EncoderSettings",
    "FrameProcessor",
    "Progress",
    "TrackedSwap",
    "VideoCancelled",
    "VideoInfo",
    "VideoReader",
    "VideoReport",
    "is_video",
    "probe",
    "process_video",
]
