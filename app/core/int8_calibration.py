"""The faces an int8 swapper is calibrated and checked on: aligned 128x128 crops with real source latents.

Faces come from photos that ship with installed packages and from the user's own source photos. insightface's
t1.jpg (six people) and Tom_Hanks_54745.png are used when insightface is installed (it is no run-time dependency:
the tests and developers have it; it is found without being imported); scikit-image's astronaut.png always is.
Without insightface the astronaut is the only shipped face: it is held back to measure on, and the user's
photos calibrate (the report lists the shipped photos used). Each face is found
and aligned exactly as a swap does it (SCRFD five points, insightface's 128 alignment) and gives its ArcFace
latent (embedding @ emap, renormalised, as INSwapper.get feeds it), so the quantiser sees the value ranges
the swapper sees at work. A face is paired with another face's latent: a swap puts someone else's identity
on a face, and the style layers must be calibrated for that.

Every third shipped face is held back from calibration to measure the result on; the user's faces always
calibrate (theirs are the identities the swapper will be asked for).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import numpy.typing as npt

from app.core.analysis import detect_faces, embed_face
from app.core.image_io import read_image
from app.core.int8_report import Progress
from app.core.probe import insightface_images
from app.core.sessions import ModelSet
from app.core.swap import ARCFACE_DST, align_crop, source_latent
from app.core.types import Face, Frame, Points
from app.errors import Cancelled, NoFaceError

log = logging.getLogger(__name__)

CROP = 128
Blob = npt.NDArray[np.float32]  # [1, 3, 128, 128] RGB in [0, 1]: the swapper's `target`
Feed = dict[str, npt.NDArray[np.float32]]  # {"target": Blob, "source": latent [1, 512]}
HELD_OUT_EVERY = 3
ALIGNED_CROPS = ("Tom_Hanks_54745.png",)  # already ArcFace-aligned 112x112 crops: points known, no detection


@dataclass(frozen=True)
class FaceSample:
    """One aligned face: the swapper's input blob, the latent of its identity and where it came from."""

    label: str  # for people: "t1.jpg#3", "t1.jpg#3 mirrored", "source me.jpg#1" (a user's photo)
    identity: str  # unique per face (a face and its mirror image share it)
    target: Blob
    latent: npt.NDArray[np.float32]
    user: bool


@dataclass(frozen=True)
class CalibrationSet:
    """Feeds for the calibrator and feeds held back to check the result on (never calibrated on)."""

    calibration: tuple[Feed, ...]
    held_out: tuple[Feed, ...]
    calibration_labels: tuple[str, ...]
    held_out_labels: tuple[str, ...]


def shipped_photos() -> list[Path]:
    """The face photos inside installed packages that exist here, in a fixed order."""
    found: list[Path] = []
    images = insightface_images()
    if images is not None:
        found += [images / "t1.jpg", images / "Tom_Hanks_54745.png"]
    try:
        import skimage

        found.append(Path(skimage.__file__).resolve().parent / "data" / "astronaut.png")
    except ImportError:  # pragma: no cover - scikit-image is a dependency
        pass
    return [p for p in found if p.is_file()]


def photo_labels(paths: Sequence[Path]) -> tuple[str, ...]:
    """'insightface t1.jpg', 'scikit-image astronaut.png': which package each shipped photo came from."""
    images = insightface_images()
    return tuple(f"{'insightface' if images is not None and p.parent == images else 'scikit-image'} {p.name}"
                 for p in paths)


def blob_from_crop(crop: Frame) -> Blob:
    """A BGR 128x128 crop as the swapper's input, exactly as `swap_crop` makes it."""
    blob = cv2.dnn.blobFromImage(crop, 1.0 / 255.0, (CROP, CROP), (0.0, 0.0, 0.0), swapRB=True)
    return np.ascontiguousarray(blob, dtype=np.float32)


def latent_for(emap: npt.NDArray[np.float32], embedding: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    return source_latent(SimpleNamespace(emap=emap), embedding)


def _aligned_face(frame: Frame) -> Face:
    """The face of an already aligned 112x112 crop: its points are ArcFace's template."""
    scale = frame.shape[1] / 112.0
    points: Points = (ARCFACE_DST * np.float32(scale)).astype(np.float32)
    h, w = frame.shape[:2]
    return Face(box=(0.0, 0.0, float(w - 1), float(h - 1)), points=points, score=1.0)


def faces_in_photo(models: ModelSet, path: Path, frame: Frame, emap: npt.NDArray[np.float32],
                   user: bool) -> list[FaceSample]:
    """Each face in `frame` aligned for the swapper, with its latent, plus its mirror image (a mirrored aligned
    face is an aligned face too, and doubles what a few photos give)."""
    faces = [_aligned_face(frame)] if path.name in ALIGNED_CROPS else detect_faces(models.detector, frame)
    samples = []
    for i, face in enumerate(faces):
        crop, _ = align_crop(frame, face.points, CROP)
        latent = latent_for(emap, embed_face(models.recognizer, frame, face))
        label = f"{'source ' if user else ''}{path.name}#{i + 1}"
        identity = f"{'user' if user else 'shipped'}:{path}#{i + 1}"
        samples.append(FaceSample(label, identity, blob_from_crop(crop), latent, user))
        samples.append(FaceSample(f"{label} mirrored", identity, blob_from_crop(np.ascontiguousarray(crop[:, ::-1])),
                                  latent, user))
    return samples


def _read_shipped(path: Path) -> Frame | None:
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    return None if image is None else np.ascontiguousarray(image, dtype=np.uint8)


def read_photos(paths: Sequence[Path]) -> list[tuple[Path, Frame]]:
    """The user's photos, read before any work starts (an unreadable one is an InputError naming it)."""
    return [(Path(p), read_image(p)) for p in paths]


def collect_faces(models: ModelSet, emap: npt.NDArray[np.float32], user_photos: Sequence[tuple[Path, Frame]],
                  progress: Progress | None = None) -> list[FaceSample]:
    """Faces of the shipped photos, then of the user's photos (one without a face is a NoFaceError naming it)."""
    photos: list[tuple[Path, Frame | None]] = [(p, None) for p in shipped_photos()]
    photos += list(user_photos)
    samples: list[FaceSample] = []
    for n, (path, given) in enumerate(photos):
        if progress is not None and not progress(f"finding faces in {path.name}", n, len(photos)):
            raise Cancelled("cancelled while finding faces")
        user = given is not None
        frame: Frame | None = given if given is not None else _read_shipped(path)
        if frame is None:
            log.warning("cannot read the shipped photo %s; calibrating without it", path)
            continue
        found = faces_in_photo(models, path, frame, emap, user)
        if user and not found:
            raise NoFaceError(f"no face found in {path}; give photos with a clearly visible face")
        log.info("%s: %d face(s)", path.name, len(found) // 2)
        samples += found
    return samples


def _pair(samples: Sequence[FaceSample]) -> list[Feed]:
    """Each target face with the latent of the next identity (a swap, not a reconstruction)."""
    identities = list(dict.fromkeys(s.identity for s in samples))
    latents = {s.identity: s.latent for s in samples}
    feeds: list[Feed] = []
    for s in samples:
        other = identities[(identities.index(s.identity) + 1) % len(identities)]
        feeds.append({"target": s.target, "source": latents[other]})
    return feeds


def split(samples: Sequence[FaceSample]) -> CalibrationSet:
    """Hold back every third shipped face (with its mirror image); the rest and all user faces calibrate. With a
    single shipped face (insightface's photos are not here) that face is held back and the user's calibrate."""
    shipped = list(dict.fromkeys(s.identity for s in samples if not s.user))
    held_ids = set(shipped[1::HELD_OUT_EVERY]) if len(shipped) > 1 else set(shipped)
    held = [s for s in samples if s.identity in held_ids]
    calib = [s for s in samples if s.identity not in held_ids]
    if not held or not calib:
        without = "" if insightface_images() is not None else (
            " (insightface's sample photos are not here: it is not installed, which the app does not need), so "
            "give photos of the faces you will swap in to calibrate on")
        raise NoFaceError(
            f"found {len(shipped)} face(s) in the photos that ship with the installed packages and "
            f"{len(dict.fromkeys(s.identity for s in samples if s.user))} in your photos; at least two faces are "
            f"needed to calibrate and check the int8 swapper{without}. If faces were expected, check "
            "buffalo_l/det_10g.onnx with `deep-live-cam models verify`."
        )
    return CalibrationSet(tuple(_pair(calib)), tuple(_pair(held)), tuple(s.label for s in calib),
                          tuple(s.label for s in held))
