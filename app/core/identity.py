"""One source identity from several photos, and a quality report for each photo.

The identity is the mean of the photos' normed ArcFace embeddings, renormalised (what FaceFusion and
VisoMaster do). Each photo is scored so the user can see which to leave out:

- face size: `face_px`, the eye distance as the five-point alignment measures it (robust to a turned head;
  also shown: the raw eye distance and the box's longer side). The recognizer looks at faces with a 35.2 px
  eye distance (ArcFace's 112 px template); below SMALL_FACE_PX (24, two thirds of that) it sees an upscaled,
  detail-poor face: flagged "small".
- sharpness: the variance of the Laplacian of the recognizer's own 112 px grey view of the face (its inner
  80 x 80). Sharp photos measure 140..740 on the shipped photos (t1's six faces, the astronaut, Tom Hanks);
  a Gaussian blur of sigma 2 px drops every one of them under 20. Flagged "blurred" below BLURRED_BELOW (40).
- frontal: 1 - |yaw|, where yaw is the nose's horizontal offset from the eyes' and mouth corners' midline
  in half eye distances (the five points' left-right symmetry, measured after levelling the eyes): 1 for a
  frontal face, 0 from a three-quarter view on. Flagged "turned" below TURNED_BELOW (0.5); t1's two
  near-profile faces score 0.27 and 0.
- similarity: the cosine similarity of the photo's embedding to the mean of the other included photos.
  Flagged "other-person" below OTHER_PERSON_BELOW (0.3): for buffalo_l's w600k_r50, photos of one person
  mostly score 0.4..0.8 against each other and different people under 0.2 (FaceFusion's default reference
  distance of 0.6 is the same cut, cos 0.4, for video frames; across photos taken years apart 0.3 is
  kinder). With two photos both get the same value: a low one flags both.

Nothing is left out automatically but photos without a face: the user (GUI: one click) or the caller (CLI,
API: a report) decides, and `build_identity(..., exclude=...)` makes the identity without them.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import cv2
import numpy as np

from app.core.analysis import largest_face
from app.core.options import SwapOptions
from app.core.swap import align_crop, alignment_matrix
from app.core.types import Embedding, Face, Frame, Points
from app.errors import NoFaceError

if TYPE_CHECKING:
    from app.core.engine import Engine, SourceFace

log = logging.getLogger(__name__)

Flag = Literal["no-face", "other-person", "small", "blurred", "turned"]
FLAG_TEXT: dict[Flag, str] = {
    "no-face": "no face found",
    "other-person": "probably another person than the other photos",
    "small": "the face is small (low detail)",
    "blurred": "the face is blurred",
    "turned": "the face is turned away",
}

TEMPLATE_EYE_PX = 35.2  # ArcFace's 112 px template: the recognizer's own eye distance
SMALL_FACE_PX = 24.0
BLURRED_BELOW = 40.0
SHARP_GOOD = 120.0  # sharpness counted as full marks in the score
TURNED_BELOW = 0.5
OTHER_PERSON_BELOW = 0.3
RECOGNIZER_SIZE = 112


@dataclass(frozen=True, eq=False)
class SourcePhoto:
    """One photo offered as the source: its face (the largest, embedded) or None when it has none."""

    name: str  # what the user knows it by (a file name)
    image: Frame
    face: Face | None

    @property
    def embedding(self) -> Embedding | None:
        return self.face.normed_embedding if self.face is not None else None


@dataclass(frozen=True)
class PhotoQuality:
    """What a user sees about one source photo."""

    name: str
    face_px: float  # eye distance as the alignment measures it, frame pixels
    eye_distance: float  # raw distance between the eye points, frame pixels
    box_px: float  # the detection box's longer side, frame pixels
    sharpness: float  # variance of the Laplacian of the recognizer's 112 px grey view
    frontal: float  # 1 frontal .. 0 three-quarter view or more
    similarity: float | None  # to the other included photos; None when there are none
    flags: tuple[Flag, ...]
    score: float  # 0..1, the components' geometric mean (size, sharpness, frontal, similarity)
    included: bool

    @property
    def ok(self) -> bool:
        return not self.flags

    def describe(self) -> str:
        """One line for a report (CLI, API, a tooltip)."""
        if "no-face" in self.flags:
            return f"{self.name}: no face found (left out)"
        sim = "-" if self.similarity is None else f"{self.similarity:.2f}"
        parts = [f"{self.name}: quality {round(self.score * 100)}%", f"face {self.face_px:.0f} px",
                 f"sharpness {self.sharpness:.0f}", f"frontal {self.frontal:.2f}", f"similarity {sim}"]
        if self.flags:
            parts.append("; ".join(FLAG_TEXT[f] for f in self.flags))
        if not self.included:
            parts.append("left out")
        return ", ".join(parts)


def mean_embedding(embeddings: Sequence[Embedding]) -> Embedding:
    """The normed embeddings averaged and renormalised."""
    if not embeddings:
        raise ValueError("no embeddings to average")
    normed = [e / max(float(np.linalg.norm(e)), 1e-12) for e in embeddings]
    mean = np.mean(np.stack(normed), axis=0)
    return np.asarray(mean / max(float(np.linalg.norm(mean)), 1e-12), dtype=np.float32)


def face_px(points: Points) -> float:
    """The eye distance the five-point alignment sees (frame pixels): the template's eye distance over the
    alignment's scale. A turned head shortens the raw eye distance, not this."""
    matrix = alignment_matrix(points, RECOGNIZER_SIZE)
    return TEMPLATE_EYE_PX / float(np.hypot(matrix[0, 0], matrix[1, 0]))


def sharpness(image: Frame, points: Points) -> float:
    crop, _ = align_crop(image, points, RECOGNIZER_SIZE)
    grey = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY).astype(np.float32)
    lap = cv2.Laplacian(grey, cv2.CV_32F)[16:96, 16:96]  # the face, not the background at the crop's edges
    return float(lap.var())


def frontal(points: Points) -> float:
    """1 - |yaw|, yaw from the five points' symmetry (see the module docstring)."""
    p = points.astype(np.float64)
    eyes = p[1] - p[0]
    angle = -np.arctan2(eyes[1], eyes[0])
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    q = (p - p.mean(axis=0)) @ rot.T
    half = (q[1, 0] - q[0, 0]) / 2.0
    if half <= 0:
        return 0.0  # eyes in the wrong order: a mirrored or broken set of points
    midline = (q[0, 0] + q[1, 0] + q[3, 0] + q[4, 0]) / 4.0
    yaw = (q[2, 0] - midline) / half
    return float(np.clip(1.0 - abs(yaw), 0.0, 1.0))


def _similarity(embedding: Embedding, others: Sequence[Embedding]) -> float | None:
    if not others:
        return None
    return float(np.dot(embedding, mean_embedding(others)))


def assess(photos: Sequence[SourcePhoto], included: Collection[int]) -> tuple[PhotoQuality, ...]:
    """A quality report per photo; similarity is measured against the included photos (never itself)."""
    reports = []
    for i, photo in enumerate(photos):
        face, emb = photo.face, photo.embedding
        if face is None or emb is None:
            reports.append(PhotoQuality(photo.name, 0.0, 0.0, 0.0, 0.0, 0.0, None, ("no-face",), 0.0, False))
            continue
        others = [e for j, p in enumerate(photos) if j != i and j in included and (e := p.embedding) is not None]
        sim = _similarity(emb, others)
        px = face_px(face.points)
        sharp = sharpness(photo.image, face.points)
        front = frontal(face.points)
        flags: list[Flag] = []
        if sim is not None and sim < OTHER_PERSON_BELOW:
            flags.append("other-person")
        if px < SMALL_FACE_PX:
            flags.append("small")
        if sharp < BLURRED_BELOW:
            flags.append("blurred")
        if front < TURNED_BELOW:
            flags.append("turned")
        parts = [min(1.0, px / TEMPLATE_EYE_PX), min(1.0, sharp / SHARP_GOOD), front]
        if sim is not None:
            parts.append(float(np.clip(sim, 0.0, 1.0)))
        score = float(np.prod(parts) ** (1.0 / len(parts)))
        x1, y1, x2, y2 = face.box
        reports.append(PhotoQuality(photo.name, px, face.eye_distance, max(x2 - x1, y2 - y1), sharp, front, sim,
                                    tuple(flags), score, i in included))
    return tuple(reports)


@dataclass(frozen=True, eq=False)
class Identity:
    """The source identity made from several photos, with every photo's report."""

    embedding: Embedding  # normed mean of the included photos' normed embeddings
    photos: tuple[SourcePhoto, ...]
    reports: tuple[PhotoQuality, ...]
    included: tuple[int, ...]

    @property
    def face(self) -> Face:
        """The best-scored included face, carrying the mean embedding: what a SourceFace holds."""
        best = max(self.included, key=lambda i: self.reports[i].score)
        face = self.photos[best].face
        assert face is not None
        return face.with_embedding(self.embedding)

    def flagged(self, flags: Collection[Flag] = ("other-person", "small", "blurred", "turned")) -> list[int]:
        return [i for i, r in enumerate(self.reports) if set(r.flags) & set(flags)]

    def excluding(self, indices: Collection[int]) -> Identity:
        return build_identity(self.photos, exclude=indices)

    def report_lines(self) -> list[str]:
        return [r.describe() for r in self.reports]


def build_identity(photos: Sequence[SourcePhoto], exclude: Collection[int] = ()) -> Identity:
    """The identity of `photos` without the photos at `exclude` (and without those that have no face)."""
    included = tuple(i for i, p in enumerate(photos) if i not in exclude and p.embedding is not None)
    if not included:
        raise NoFaceError("none of the source photos has a usable face; use clear, front-facing photos")
    embeddings = [e for i in included if (e := photos[i].embedding) is not None]
    identity = Identity(mean_embedding(embeddings), tuple(photos), assess(photos, set(included)), included)
    for report in identity.reports:
        if report.flags:
            log.info("source photo %s", report.describe())
    return identity


def analyse_photos(engine: Engine, images: Sequence[tuple[str, Frame]],
                   options: SwapOptions | None = None) -> list[SourcePhoto]:
    """Detect the largest face of each image and embed it (one detection and one embedding per photo)."""
    options = options or SwapOptions()
    photos = []
    for name, image in images:
        face = largest_face(engine.detect(image, options))
        photos.append(SourcePhoto(name, image, engine.embed(image, face) if face is not None else None))
    return photos


def identity_source(engine: Engine, identity: Identity) -> SourceFace:
    """The swap's source for `identity`: the mean embedding through the swap model's emap."""
    return engine.source_for(identity.face)


def source_from_images(engine: Engine, images: Sequence[tuple[str, Frame]], options: SwapOptions | None = None,
                       exclude: Collection[int] = ()) -> tuple[SourceFace, Identity | None]:
    """The source of one photo (its largest face), or of several photos of one person: one identity, each
    photo scored (the Identity says how; None for a single photo)."""
    if len(images) == 1 and not exclude:
        return engine.prepare_source(images[0][1], options), None
    identity = build_identity(analyse_photos(engine, images, options), exclude)
    return identity_source(engine, identity), identity
