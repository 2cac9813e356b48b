"""Whole videos through the engine: decode and encode with PyAV (FFmpeg inside the wheel), frames in a
bounded pipeline, audio kept, atomic output. The faces are the frame processor's business (app/core)."""

from app.media.formats import VIDEO_SUFFIXES, EncoderSettings
from app.media.pipeline import FrameFunction, Progress, VideoCancelled, VideoReport, process_video
from app.media.reader import VideoInfo, VideoReader, is_video, probe
from app.media.writer import AudioMode

__all__ = [
    "VIDEO_SUFFIXES",
    "AudioMode",
    "EncoderSettings",
    "FrameFunction",
    "Progress",
    "VideoCancelled",
    "VideoInfo",
    "VideoReader",
    "VideoReport",
    "is_video",
    "probe",
    "process_video",
]
