"""The engine: detection, source preparation and per-frame swapping over one ModelSet.

Front ends build a `SwapOptions` and call `Engine`; the live runtime calls `detect` and `swap` with its own
tracked faces. The engine holds no settings of its own: every call gets the options it must use.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from app.core.analysis import detect_faces, embed_face, largest_face
from app.core.paste import FacePaster, scaled_inverse
from app.core.sessions import ModelSet
from app.core.swap import Latent, align_crop, source_latent, swap_crop
from app.core.types import Face, Frame, Matrix, RestoreOptions, SwapOptions
from app.errors import NoFaceError
from app.models import manifest

log = logging.getLogger(__name__)

SWAP_MODELS = (manifest.DETECTOR, manifest.RECOGNIZER, manifest.INSWAPPER)


@dataclass(frozen=True, eq=False)
class SourceFace:
    """The identity to put on other faces: its face in the source image and the swap model's latent."""

    face: Face
    latent: Latent


@dataclass(frozen=True, eq=False)
class SwapResult:
    frame: Frame
    faces: tuple[Face, ...]  # the faces that were replaced
    timings: dict[str, float] = field(default_factory=dict)  # milliseconds per stage


def scaled_face(face: Face, matrix: Matrix, size: int, face_scale: float) -> Face:
    """`face` as it lies after a paste-back scaled by `face_scale` (about the aligned crop's centre)."""
    inv = scaled_inverse(matrix, size, face_scale)  # crop -> frame, scaled
    crop_points = face.points @ matrix[:, :2].T + matrix[:, 2]
    return face.with_points((crop_points @ inv[:, :2].T + inv[:, 2]).astype(np.float32))


def select_faces(faces: Sequence[Face], options: SwapOptions) -> list[Face]:
    if options.faces == "largest":
        big = largest_face(list(faces))
        return [big] if big is not None else []
    return list(faces)


class Engine:
    """Stateless apart from a small cache of prepared sources (keyed by image content)."""

    def __init__(self, models: ModelSet, source_cache_size: int = 16) -> None:
        self.models = models
        self.source_cache_size = source_cache_size  # 0: every call analyses its source again
        self._paster = FacePaster()
        self._restore_paster: FacePaster | None = None
        self._sources: OrderedDict[bytes, SourceFace] = OrderedDict()
        self._sources_lock = threading.Lock()

    def check_models(self, options: SwapOptions | None = None) -> None:
        """Raise one ModelError naming every missing file the options need, before any work starts."""
        self.models.require(SWAP_MODELS)
        if options is not None and options.restore is not None:
            from app.core.restore import check_restorer_present

            check_restorer_present(self.models.models_dir)

    def detect(self, frame: Frame, options: SwapOptions) -> list[Face]:
        return detect_faces(self.models.detector, frame, options.det_size, options.det_threshold)

    def embed(self, frame: Frame, face: Face) -> Face:
        return face.with_embedding(embed_face(self.models.recognizer, frame, face))

    def prepare_source(self, image: Frame, options: SwapOptions | None = None, face: Face | None = None) -> SourceFace:
        """The identity to swap in: `face` of `image` when given (a face the user picked), else its largest
        face. The same image content and face are analysed only once."""
        options = options or SwapOptions()
        digest = hashlib.blake2b(image.tobytes(), digest_size=16, person=str(image.shape).encode()[:16])
        if face is not None:
            digest.update(face.points.astype(np.float32).tobytes())
        key = digest.digest()
        with self._sources_lock:
            cached = self._sources.get(key)
            if cached is not None:
                self._sources.move_to_end(key)
                return cached
        if face is None:
            face = largest_face(self.detect(image, options))
            if face is None:
                raise NoFaceError("no face found in the source image; use a clear, front-facing photo")
        face = self.embed(image, face)
        assert face.embedding is not None
        source = SourceFace(face=face, latent=source_latent(self.models.swapper, face.embedding))
        with self._sources_lock:
            self._sources[key] = source
            while len(self._sources) > self.source_cache_size:
                self._sources.popitem(last=False)
        return source

    def swap(self, frame: Frame, source: SourceFace, faces: Sequence[Face], options: SwapOptions) -> SwapResult:
        """A copy of `frame` with each of `faces` replaced (and restored when options ask for it)."""
        swapper = self.models.swapper
        size = int(swapper.input_size[0])
        out = frame.copy()
        timings = {"swap": 0.0, "paste": 0.0, "restore": 0.0}
        pasted: list[Face] = []  # where each swapped face ended up (face scale moves its points)
        for face in faces:
            t0 = time.perf_counter()
            crop, matrix = align_crop(frame, face.points, size)
            swapped = swap_crop(swapper, crop, source.latent)
            t1 = time.perf_counter()
            self._paster.paste(
                out,
                swapped,
                matrix,
                blend=options.blend,
                face_scale=options.face_scale,
                colour_reference=crop if options.color_correction else None,
            )
            t2 = time.perf_counter()
            timings["swap"] += (t1 - t0) * 1000.0
            timings["paste"] += (t2 - t1) * 1000.0
            pasted.append(face if options.face_scale == 1.0 else scaled_face(face, matrix, size, options.face_scale))
        if options.restore is not None and faces:
            t3 = time.perf_counter()
            self._restore_into(out, pasted, options.restore)
            timings["restore"] = (time.perf_counter() - t3) * 1000.0
        return SwapResult(frame=out, faces=tuple(faces), timings=timings)

    def restorer_loaded(self) -> bool:
        """Whether restoration can run now without loading (or converting) the restorer first."""
        return self.models.is_loaded("restorer")

    def restore(self, frame: Frame, options: SwapOptions, restore: RestoreOptions) -> SwapResult:
        """A copy of `frame` with its faces (all or the largest) restored."""
        t0 = time.perf_counter()
        faces = select_faces(self.detect(frame, options), options)
        t1 = time.perf_counter()
        out = frame.copy()
        self._restore_into(out, faces, restore)
        t2 = time.perf_counter()
        return SwapResult(frame=out, faces=tuple(faces),
                          timings={"detect": (t1 - t0) * 1000.0, "restore": (t2 - t1) * 1000.0})

    def _restore_into(self, out: Frame, faces: Sequence[Face], restore: RestoreOptions) -> None:
        from app.core.restore import SIZE, restore_faces

        if self._restore_paster is None:
            self._restore_paster = FacePaster(SIZE)
        restore_faces(self.models.restorer, out, faces, restore, out=out, paster=self._restore_paster)

    def process(self, frame: Frame, source: SourceFace, options: SwapOptions) -> SwapResult:
        """Detect, choose and swap the faces of one image."""
        t0 = time.perf_counter()
        faces = select_faces(self.detect(frame, options), options)
        detect_ms = (time.perf_counter() - t0) * 1000.0
        result = self.swap(frame, source, faces, options)
        result.timings["detect"] = detect_ms
        return result

