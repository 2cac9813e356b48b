"""A source per person: target people (each known by an embedding) mapped to sources.

A `FaceMap` is immutable, like the options: the worker takes a new one as a whole when the user maps
another person. It matches an embedding to the mapped person it is most similar to (cosine similarity of
normed ArcFace embeddings), when that similarity reaches `threshold`. MATCH_THRESHOLD is 0.4: FaceFusion's
default reference-face distance (0.6, as 1 - cosine) for the same task; with buffalo_l's w600k_r50 one
person's faces across video frames mostly score 0.5..0.9 against each other and different people under 0.2.
Faces that match nobody follow `unmatched`: "default" (the default source, if any) or "keep" (left alone).

Stills (photos, no tracker): `FaceMap.assign` embeds every face once and matches it directly.

Streams: `TrackRecognizer` embeds each new track once (never per frame), keeps the track's embedding and
assignment while the tracker keeps the track, and matches the kept embeddings again (without embedding)
when a new map arrives. Someone who leaves and comes back is a new track: embedded once, matched, and gets
their source back.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Generic, Literal, TypeVar

import numpy as np
import numpy.typing as npt

from app.core.analysis import largest_face
from app.core.types import Embedding, Face, Frame
from app.errors import NoFaceError

log = logging.getLogger(__name__)

S = TypeVar("S")  # a source: the engine's SourceFace in the app, anything in tests
Unmatched = Literal["default", "keep"]
Embed = Callable[[Frame, Face], Embedding]

MATCH_THRESHOLD = 0.4
FORGET_AFTER_FRAMES = 900  # a track unseen this many frames is forgotten (the tracker drops it much sooner)


def _normed(embedding: Embedding) -> Embedding:
    norm = float(np.linalg.norm(embedding))
    if not np.isfinite(norm) or norm <= 0.0:
        raise ValueError("an embedding must be finite and non-zero")
    return np.asarray(embedding / norm, dtype=np.float32)


@dataclass(frozen=True, eq=False)
class MappedPerson(Generic[S]):
    """A target person (from a target photo, or a face clicked in live) and the source they get."""

    name: str
    embedding: Embedding  # stored normed
    source: S

    def __post_init__(self) -> None:
        object.__setattr__(self, "embedding", _normed(self.embedding))


@dataclass(frozen=True, eq=False)
class Assignment(Generic[S]):
    """What to do with one face: swap in `source` (None: leave the face alone)."""

    face: Face
    source: S | None
    person: str | None  # the mapped person it was recognised as; None: unmatched
    similarity: float  # to the most similar mapped person; -1.0 when nobody is mapped
    track_id: int | None = None


@dataclass(frozen=True, eq=False)
class FaceMap(Generic[S]):
    people: tuple[MappedPerson[S], ...] = ()
    default: S | None = None  # the source of faces that match nobody (unmatched="default")
    unmatched: Unmatched = "default"
    threshold: float = MATCH_THRESHOLD
    _matrix: npt.NDArray[np.float32] = field(init=False, repr=False)  # the people's embeddings, one per row

    def __post_init__(self) -> None:
        if self.unmatched not in ("default", "keep"):
            raise ValueError(f"unmatched must be 'default' or 'keep', got {self.unmatched!r}")
        names = [p.name for p in self.people]
        if len(set(names)) != len(names):
            raise ValueError("each mapped person needs a name of their own")
        matrix = np.stack([p.embedding for p in self.people]) if self.people else np.zeros((0, 512), np.float32)
        object.__setattr__(self, "_matrix", np.asarray(matrix, dtype=np.float32))

    def with_person(self, name: str, embedding: Embedding, source: S) -> FaceMap[S]:
        """A new map with `name` mapped to `source` (replacing an earlier mapping of that name)."""
        people = tuple(p for p in self.people if p.name != name) + (MappedPerson(name, embedding, source),)
        return replace(self, people=people)

    def without_person(self, name: str) -> FaceMap[S]:
        return replace(self, people=tuple(p for p in self.people if p.name != name))

    def similarities(self, embedding: Embedding) -> npt.NDArray[np.float32]:
        """Cosine similarity of `embedding` to each mapped person."""
        return np.asarray(self._matrix @ _normed(embedding), dtype=np.float32)

    def match(self, embedding: Embedding) -> tuple[MappedPerson[S] | None, float]:
        """The most similar mapped person when similar enough (else None), and that similarity."""
        if not self.people:
            return None, -1.0
        sims = self.similarities(embedding)
        best = int(np.argmax(sims))
        similarity = float(sims[best])
        return (self.people[best] if similarity >= self.threshold else None), similarity

    def decide(self, face: Face, embedding: Embedding, track_id: int | None = None) -> Assignment[S]:
        person, similarity = self.match(embedding)
        if person is not None:
            return Assignment(face, person.source, person.name, similarity, track_id)
        source = self.default if self.unmatched == "default" else None
        return Assignment(face, source, None, similarity, track_id)

    def assign(self, frame: Frame, faces: Sequence[Face], embed: Embed) -> list[Assignment[S]]:
        """Stills: each face embedded once (a face that carries its embedding is not embedded again)."""
        out = []
        for face in faces:
            embedding = face.embedding if face.embedding is not None else embed(frame, face)
            out.append(self.decide(face, embedding))
        return out


def person_from_photo(name: str, image: Frame, detect: Callable[[Frame], list[Face]], embed: Embed,
                      source: S) -> MappedPerson[S]:
    """The person in a target photo (its largest face), mapped to `source` (e.g. --map TARGET=SOURCE)."""
    face = largest_face(detect(image))
    if face is None:
        raise NoFaceError(f"no face found in the target photo {name}")
    return MappedPerson(name, embed(image, face), source)


@dataclass
class _Track:
    embedding: Embedding
    last_seen: int


@dataclass
class TrackRecognizer(Generic[S]):
    """Per stream: which source each tracked person gets. One embedding per new track. Not thread-safe:
    the worker that owns the tracker owns this."""

    embed: Embed
    forget_after: int = FORGET_AFTER_FRAMES
    embeddings: int = 0  # how many faces were embedded (one per new track)
    _tracks: dict[int, _Track] = field(default_factory=dict)
    _assigned: dict[int, Assignment[S]] = field(default_factory=dict)
    _map: FaceMap[S] | None = None
    _frame: int = 0

    def assign(self, face_map: FaceMap[S], frame: Frame,
               tracked: Sequence[tuple[int, Face]]) -> list[Assignment[S]]:
        """One assignment per tracked face (Tracker.tracked()), in the same order."""
        self._frame += 1
        if face_map is not self._map:  # a new map: match the kept embeddings again, embed nothing
            self._assigned.clear()
            self._map = face_map
        out: list[Assignment[S]] = []
        for track_id, face in tracked:
            track = self._tracks.get(track_id)
            if track is None:
                if face.embedding is not None:
                    embedding = face.embedding
                else:
                    embedding = self.embed(frame, face)
                    self.embeddings += 1
                track = self._tracks[track_id] = _Track(_normed(embedding), self._frame)
            track.last_seen = self._frame
            kept = self._assigned.get(track_id)
            if kept is None:
                kept = self._assigned[track_id] = face_map.decide(face, track.embedding, track_id)
                log.debug("face track %d: %s (similarity %.2f)", track_id, kept.person or "unmatched",
                          kept.similarity)
            out.append(replace(kept, face=face))
        self._forget()
        return out

    def embedding_of(self, track_id: int) -> Embedding | None:
        """The embedding kept for a track: map a face clicked in live without embedding it again."""
        track = self._tracks.get(track_id)
        return None if track is None else track.embedding

    def reset(self) -> None:
        """Forget every track (the tracker was replaced: its ids mean other people)."""
        self._tracks.clear()
        self._assigned.clear()

    def _forget(self) -> None:
        stale = [i for i, t in self._tracks.items() if self._frame - t.last_seen > self.forget_after]
        for i in stale:
            del self._tracks[i]
            self._assigned.pop(i, None)
