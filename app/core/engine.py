"""The engine: the face operations over one ModelSet (detect, embed, prepare a source, swap and restore given
faces), and the rules about which models a job needs and when restoration may run.

It holds no settings of its own: every call gets the options it must use. Whole frames go through
app/core/processor.py (FrameProcessor), which decides the faces (tracked or detected) and calls in here.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from app.core.analysis import detect_faces, embed_face, largest_face
from app.core.cache import LruCache
from app.core.landmarks import Landmarks
from app.core.masks import MaskMaker
from app.core.options import RestoreOptions, SwapOptions
from app.core.paste import FacePaster, scaled_inverse
from app.core.sessions import RESTORE_ROLES, SWAP_ROLES, ModelSet
from app.core.swap import Latent, align_crop, alignment_matrix, source_latent, swap_crop
from app.core.types import Face, Frame, Matrix
from app.errors import NoFaceError
from app.models import manifest

log = logging.getLogger(__name__)

@dataclass(frozen=True)
class Note:
    """Something the user should know about a job that goes on anyway; `fetch` names the models whose download
    fixes it (each front end words how)."""

    text: str
    fetch: tuple[str, ...] | None = None


RESTORER_NOT_READY = Note("face restoration is not loaded yet; frames go out unrestored until it is")


@dataclass(frozen=True, eq=False)
class SourceFace:
    """The identity to put on other faces: its face in the source image and the swap model's latent."""

    face: Face
    latent: Latent


@dataclass(frozen=True, eq=False)
class SwappedFace:
    """One face's swap, in the face's aligned space: the crop the swap model made, the face it was made from
    (and its frame -> crop matrix and original crop), and whose identity it carries. On the torch backend the
    crops stay on its device (tensors); a front end keeps them as they are."""

    crop: Any  # S x S x 3 BGR uint8 (numpy), or 3 x S x S BGR 0..255 on the torch device
    face: Face
    source: SourceFace
    matrix: Matrix
    reference: Any  # the original aligned crop (same kind): colour correction's reference on its frame


@dataclass(frozen=True, eq=False)
class SwapResult:
    frame: Frame
    faces: tuple[Face, ...]  # the faces that were replaced
    timings: dict[str, float] = field(default_factory=dict)  # milliseconds per stage
    notes: tuple[Note, ...] = ()


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
        self._paster = FacePaster()
        self._masks = MaskMaker()
        self._device: Any = None  # the torch device path (DeviceFaces), made when the swapper runs on torch
        self._restore_paster: FacePaster | None = None
        self._sources: LruCache[bytes, SourceFace] = LruCache(source_cache_size)  # 0: analyse every time

    # -- which models a job needs, and restoration's readiness -------------------------------------------------
    @staticmethod
    def roles_for(options: SwapOptions, swapping: bool = True) -> tuple[str, ...]:
        """The models a job with `options` needs: a swap (restoring too when asked), or restoring alone."""
        if not swapping:
            return RESTORE_ROLES
        return SWAP_ROLES + (("restorer",) if options.restore is not None else ())

    def check_models(self, options: SwapOptions | None = None, swapping: bool = True) -> None:
        """Raise one ModelError naming every missing file the job needs, before any work starts."""
        self.models.require(self.roles_for(options or SwapOptions(), swapping))

    def restorer_ready(self) -> bool:
        """Whether restoration can run now without loading (or converting) the restorer first."""
        return self.models.is_loaded("restorer")

    def prepare_restorer(self) -> None:
        """Load the restorer now (converting a .pth the first time can take minutes): front ends call this off
        their interactive threads, so that a live worker never has to."""
        self.models.load("restorer")

    def options_ready_now(self, options: SwapOptions) -> SwapOptions:
        """`options` as they can run at once: without restoration while the restorer is not loaded."""
        if options.restore is None or self.restorer_ready():
            return options
        return options.replace(restore=None)

    # -- analysis ------------------------------------------------------------------------------------------------
    def detect(self, frame: Frame, options: SwapOptions) -> list[Face]:
        return detect_faces(self.models.detector, frame, options.det_size, options.det_threshold)

    def embed(self, frame: Frame, face: Face) -> Face:
        return face.with_embedding(embed_face(self.models.recognizer, frame, face))

    def prepare_source(self, image: Frame, options: SwapOptions | None = None, face: Face | None = None) -> SourceFace:
        """The identity to swap in: `face` of `image` when given (a face the user picked), else its largest
        face. The same image content and face are analysed only once."""
        digest = hashlib.blake2b(image.tobytes(), digest_size=16, person=str(image.shape).encode()[:16])
        if face is not None:
            digest.update(face.points.astype(np.float32).tobytes())

        def make() -> SourceFace:
            chosen = face if face is not None else largest_face(self.detect(image, options or SwapOptions()))
            if chosen is None:
                raise NoFaceError("no face found in the source image; use a clear, front-facing photo")
            return self.source_for(self.embed(image, chosen))

        return self._sources.get_or_make(digest.digest(), make)[0]

    def source_for(self, face: Face) -> SourceFace:
        """The identity of a face that carries its embedding (one photo's, or several photos' mean)."""
        if face.embedding is None:
            raise ValueError("a source face needs its embedding")
        return SourceFace(face=face, latent=source_latent(self.models.swapper, face.embedding))

    # -- the work on given faces ------------------------------------------------------------------------------
    def landmarks_missing(self) -> Note | None:
        """Why the masks that need the 106 landmarks cannot have them, or None when the model is there."""
        from app.core.landmarks import missing_landmark_message

        message = missing_landmark_message(self.models.models_dir)
        return None if message is None else Note(message, fetch=(manifest.LANDMARK_2D.key,))

    def landmarks(self, frame: Frame, face: Face) -> Landmarks:
        """The face's 106 points (frame pixels), as insightface's Landmark.get finds them."""
        from app.core.landmarks import landmarks_106

        return landmarks_106(self.models.landmarker, frame, face)

    def swap(self, frame: Frame, faces: Sequence[Face], sources: Sequence[SourceFace], options: SwapOptions
             ) -> SwapResult:
        """A copy of `frame` with each of `faces` replaced by the identity of the source at the same place (and
        restored when the options ask for it): swap_crops, then paste_swaps, then restoration."""
        if len(sources) != len(faces):
            raise ValueError(f"{len(faces)} faces but {len(sources)} sources")
        if faces and self.models.swapper is not None and self.models.on_device("swapper"):
            return self._swap_on_device(frame, faces, sources, options)
        t0 = time.perf_counter()
        swaps = self.swap_crops(frame, faces, sources)
        t1 = time.perf_counter()
        out, timings, notes = self.paste_swaps(frame, swaps, options)
        timings["swap"] = (t1 - t0) * 1000.0
        if options.restore is not None and faces:
            size = swaps[0].crop.shape[0]
            pasted = [f if options.face_scale == 1.0 else scaled_face(f, s.matrix, size, options.face_scale)
                      for f, s in zip(faces, swaps, strict=True)]  # where each swapped face ended up
            t2 = time.perf_counter()
            self.restore_into(out, pasted, options.restore)
            timings["restore"] = (time.perf_counter() - t2) * 1000.0
        return SwapResult(frame=out, faces=tuple(faces), timings=timings, notes=notes)

    def swap_crops(self, frame: Frame, faces: Sequence[Face], sources: Sequence[SourceFace]) -> list[SwappedFace]:
        """Each face aligned and swapped: the swap model's output in the face's aligned space, with what it was
        made from (a fluid render keeps these and pastes them again on later frames)."""
        swapper = self.models.swapper
        if faces and self.models.on_device("swapper"):
            device = self._device_faces()
            frame_t = device.transfer.upload(frame)
            crops, references, matrices = device.swap_crops(frame_t, faces, [s.latent for s in sources])
            return [SwappedFace(crops[i], face, source, matrices[i], references[i])
                    for i, (face, source) in enumerate(zip(faces, sources, strict=True))]
        size = int(swapper.input_size[0])
        out = []
        for face, source in zip(faces, sources, strict=True):
            crop, matrix = align_crop(frame, face.points, size)
            out.append(SwappedFace(swap_crop(swapper, crop, source.latent), face, source, matrix, crop))
        return out

    def paste_swaps(self, frame: Frame, swaps: Sequence[SwappedFace], options: SwapOptions,
                    faces: Sequence[Face] | None = None,
                    landmarks: Sequence[Landmarks | None] | None = None,
                    blends: Sequence[float] | None = None) -> tuple[Frame, dict[str, float], tuple[Note, ...]]:
        """A copy of `frame` with each swapped crop pasted: where its face was (`faces` None) or at `faces`, the
        same people's positions in this frame (a fluid render), with the options' mask, kept mouth, blend,
        colour correction (against this frame) and face scale. `landmarks`: each face's 106 points in this
        frame when the caller has them (else they are found here when the options need them). `blends`: each
        swap's share of the options' blend (a fluid render fades out a swap whose face has turned since)."""
        timings = {"paste": 0.0, "landmarks": 0.0}
        notes: tuple[Note, ...] = ()
        use_landmarks = options.needs_landmarks
        if use_landmarks and landmarks is None and (missing := self.landmarks_missing()) is not None:
            notes, use_landmarks = (missing,), False  # the swap goes on with what needs no landmarks
        if swaps and not isinstance(swaps[0].crop, np.ndarray):  # kept on the torch device
            t0 = time.perf_counter()
            placed = list(faces) if faces is not None else [s.face for s in swaps]
            marks = list(landmarks) if landmarks is not None else [
                self.landmarks(frame, f) if use_landmarks else None for f in placed]
            t1 = time.perf_counter()
            out = self._paste_on_device(frame, swaps, placed, faces is not None, options, marks, blends)
            timings["landmarks"], timings["paste"] = (t1 - t0) * 1000.0, (time.perf_counter() - t1) * 1000.0
            return out, timings, notes
        out = frame.copy()
        for i, swap in enumerate(swaps):
            t0 = time.perf_counter()
            face = swap.face if faces is None else faces[i]
            size = swap.crop.shape[0]
            if faces is None:
                matrix, reference = swap.matrix, swap.reference
            else:
                reference, matrix = align_crop(frame, face.points, size)
            found = landmarks[i] if landmarks is not None else (self.landmarks(frame, face) if use_landmarks else None)
            t1 = time.perf_counter()
            alpha = self._masks.alpha(size, matrix, options.face_mask, options.mouth, found, options.face_scale)
            blend = options.blend * (1.0 if blends is None else blends[i])
            self._paster.paste(out, swap.crop, matrix, blend=blend, face_scale=options.face_scale,
                               colour_reference=reference if options.color_correction else None, mask=alpha)
            timings["landmarks"] += (t1 - t0) * 1000.0
            timings["paste"] += (time.perf_counter() - t1) * 1000.0
        return out, timings, notes

    # -- the torch device path (the frame uploaded once, downloaded once) ----------------------------------------
    def _device_faces(self) -> Any:
        if self._device is None:
            from app.core.torch_backend.device_engine import DeviceFaces

            self._device = DeviceFaces(self.models.swapper, self._masks)
        return self._device

    def _swap_on_device(self, frame: Frame, faces: Sequence[Face], sources: Sequence[SourceFace],
                        options: SwapOptions) -> SwapResult:
        from app.core.torch_backend.device_engine import synchronised_ms

        device = self._device_faces()
        t0 = time.perf_counter()
        frame_t = device.transfer.upload(frame)
        swapped, references, matrices = device.swap_crops(frame_t, faces, [s.latent for s in sources])
        timings = {"swap": synchronised_ms(device.device, t0), "landmarks": 0.0, "paste": 0.0, "restore": 0.0}
        notes: tuple[Note, ...] = ()
        use_landmarks = options.needs_landmarks
        if use_landmarks and (missing := self.landmarks_missing()) is not None:
            notes, use_landmarks = (missing,), False
        t1 = time.perf_counter()
        marks = [self.landmarks(frame, f) if use_landmarks else None for f in faces]
        t2 = time.perf_counter()
        device.paste(frame_t, frame, faces, swapped, references, matrices, options, marks)
        timings["landmarks"], timings["paste"] = (t2 - t1) * 1000.0, synchronised_ms(device.device, t2)
        if options.restore is not None:
            t3 = time.perf_counter()
            pasted = [f if options.face_scale == 1.0 else scaled_face(f, m, device.size, options.face_scale)
                      for f, m in zip(faces, matrices, strict=True)]
            device.restore(frame_t, pasted, self.models.restorer, options.restore)
            timings["restore"] = synchronised_ms(device.device, t3)
        return SwapResult(frame=device.transfer.download(frame_t), faces=tuple(faces), timings=timings, notes=notes)

    def _paste_on_device(self, frame: Frame, swaps: Sequence[SwappedFace], placed: list[Face], moved: bool,
                         options: SwapOptions, marks: list[Any], blends: Sequence[float] | None = None) -> Frame:
        import torch

        from app.core.torch_backend.frame_ops import align_crops

        device = self._device_faces()
        frame_t = device.transfer.upload(frame)
        crops = torch.stack([s.crop for s in swaps])
        if moved:  # the kept swaps go where the faces are now; colour is matched against this frame
            matrices = [alignment_matrix(f.points, device.size) for f in placed]
            references = align_crops(frame_t, matrices, device.size)
        else:
            matrices, references = [s.matrix for s in swaps], torch.stack([s.reference for s in swaps])
        shares = [1.0] * len(swaps) if blends is None else list(blends)
        for share in sorted(set(shares)):  # one batch per blend: all of them at once unless some are fading
            if share <= 0.0:
                continue
            idx = [i for i, b in enumerate(shares) if b == share]
            opts = options if share == 1.0 else options.replace(blend=options.blend * share)
            device.paste(frame_t, frame, [placed[i] for i in idx], crops[idx], references[idx],
                         [matrices[i] for i in idx], opts, [marks[i] for i in idx])
        out: Frame = device.transfer.download(frame_t)
        return out

    def restore_into(self, out: Frame, faces: Sequence[Face], restore: RestoreOptions) -> None:
        """Restore each of `faces` of `out`, in place."""
        from app.core.restore import SIZE, restore_faces

        if self._restore_paster is None:
            self._restore_paster = FacePaster(SIZE)
        restore_faces(self.models.restorer, out, faces, restore, out=out, paster=self._restore_paster)
