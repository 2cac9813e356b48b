"""What a video swap needs, in one picklable value that a remote worker turns into a frame processor.

A chunked (Ray) video job ships this to every worker instead of live objects: model sessions and trackers
cannot be pickled, and each chunk must start with a fresh tracker anyway. The worker calls `load_engine`
once (models load once per worker) and `processor` once per chunk. This is the one place that decides
which frame processor a video job runs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from app.core.engine import Engine
from app.core.image_io import decode_image
from app.core.options import SwapOptions
from app.core.processor import FrameProcessor, VideoFrames
from app.core.sessions import ModelSet
from app.core.tracker import Tracker
from app.media.pipeline import FrameFunction


@dataclass(frozen=True)
class SwapJob:
    """The processor factory of a video swap: models folder, providers, the source photo (its encoded bytes,
    decoded on the worker) and the swap options."""

    models_dir: Path
    providers: tuple[str, ...] | None
    source_image: bytes
    options: SwapOptions

    @property
    def engine_key(self) -> tuple[str, tuple[str, ...] | None]:
        """Jobs with the same key can share one loaded engine."""
        return str(self.models_dir), self.providers

    def load_engine(self) -> Engine:
        """The engine, with every model the options need checked (ModelError naming missing files)."""
        engine = Engine(ModelSet(self.models_dir, list(self.providers) if self.providers else None))
        engine.check_models(self.options)
        return engine

    def processor(self, engine: Engine) -> VideoFrames:
        """A fresh frame processor for one run of consecutive frames (its tracker starts on the first frame).
        The source face is analysed once per engine (the engine caches it by content)."""
        source = engine.prepare_source(decode_image(self.source_image, "the source image"), self.options)
        return FrameProcessor(engine, Tracker()).video_frames(source, self.options)


def frames_with_faces(processor: FrameFunction) -> int | None:
    """How many frames the processor found faces in, when it counts them."""
    count = getattr(processor, "frames_with_faces", None)
    return int(count) if isinstance(count, int) else None
