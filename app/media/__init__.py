"""Whole videos through the engine: decode and encode with PyAV (FFmpeg inside the wheel), frames in a
bounded pipeline, faces tracked across frames, audio kept, atomic output."""

from app.media.formats import VIDEO_SUFFIXES, EncoderSettings
from app.media.pipeline import FrameProcessor, Progress, VideoCancelled, VideoReport, process_video
from app.media.reader import VideoInfo, VideoReader, is_video, probe
from app.media.swap import TrackedSwap
from app.media.writer import AudioMode

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
