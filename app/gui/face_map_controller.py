"""The one map of people to sources, shared by the Live and Photos tabs.

It owns a FaceMap (app/core/face_map.py) whose default is the source panel's identity, adds people (a face
clicked in the live preview, or the person in a target photo) and removes them, and hands every new map as a
whole to whoever uses it (`cast_changed`: the live session and the Photos tab). Views only show `entries`.
Every embedding, detection and source preparation runs off the UI thread; a person keeps their source for as
long as they are in the map, whatever the screen position (the processor recognises each new track once).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal

from app.core.analysis import largest_face
from app.core.engine import Engine, SourceFace
from app.core.face_map import FaceMap, person_from_photo
from app.core.image_io import read_image
from app.core.options import SwapOptions
from app.core.processor import Person
from app.core.types import Embedding, Face, Frame
from app.errors import DLCError, NoFaceError
from app.gui.messages import user_text
from app.gui.qimage import FrameImage, face_thumbnail
from app.gui.tasks import EngineHolder, TaskRunner

log = logging.getLogger(__name__)
THUMB = 44


@dataclass(frozen=True, eq=False)
class SourceChoice:
    """A source the user can give a person: one already prepared, a face of a loaded photo, or a photo file."""

    label: str  # as a menu offers it
    image: Frame | None = None  # the photo the face is in (its thumbnail; prepared from when `source` is None)
    face: Face | None = None  # None: the photo's largest face
    source: SourceFace | None = None  # already prepared (the default identity)
    path: str = ""  # a photo file, read and prepared when chosen
    short: str = ""  # as a list of people names it ("" : the label)

    @property
    def name(self) -> str:
        return self.short or self.label


@dataclass(frozen=True, eq=False)
class MappedEntry:
    """What the views show of one mapped person."""

    name: str  # the FaceMap's name for them (unique)
    label: str
    source_label: str
    person_thumb: FrameImage | None
    source_thumb: FrameImage | None


def person_at(people: Sequence[Person], x: float, y: float) -> Person | None:
    """The face whose box holds the frame point (x, y); the smallest one where boxes overlap."""
    hits = [p for p in people if p.face.box[0] <= x <= p.face.box[2] and p.face.box[1] <= y <= p.face.box[3]]
    return min(hits, key=lambda p: p.face.area) if hits else None


def _embedding(engine: Engine, frame: Frame, face: Face) -> Embedding:
    embedding = engine.embed(frame, face).embedding
    assert embedding is not None
    return embedding


def resolve_source(engine: Engine, choice: SourceChoice, options: SwapOptions) -> tuple[SourceFace, FrameImage | None]:
    """The prepared source of `choice` and its thumbnail (off the UI thread: it may read, detect and embed)."""
    image = choice.image
    if choice.source is not None:
        source = choice.source
    elif choice.path:
        image = read_image(choice.path)
        source = engine.prepare_source(image, options)
    else:
        assert image is not None, "a choice needs a prepared source, a photo or a path"
        face = choice.face
        source = engine.source_for(face) if face is not None and face.embedding is not None else \
            engine.prepare_source(image, options, face)
    return source, (face_thumbnail(image, source.face.box, THUMB) if image is not None else None)


def _person_from_frame(engine: Engine, frame: Frame, face: Face) -> tuple[Embedding, FrameImage]:
    return _embedding(engine, frame, face), face_thumbnail(frame, face.box, THUMB)


def _person_from_photo(engine: Engine, path: str, options: SwapOptions, source: SourceFace
                       ) -> tuple[Embedding, FrameImage]:
    image = read_image(path)
    faces = engine.detect(image, options)
    person = person_from_photo(Path(path).name, image, lambda _: faces, lambda f, face: _embedding(engine, f, face),
                               source)
    face = largest_face(faces)
    assert face is not None  # person_from_photo raised otherwise
    return person.embedding, face_thumbnail(image, face.box, THUMB)


class FaceMapController(QObject):
    cast_changed = Signal(object)  # what processors take: a SourceFace, a FaceMap with people, or None
    people_changed = Signal(object)  # tuple[MappedEntry, ...]
    message = Signal(str, str)  # text, level

    def __init__(self, tasks: TaskRunner, engines: EngineHolder, options: Callable[[], SwapOptions]) -> None:
        super().__init__()
        self._tasks = tasks
        self._engines = engines
        self._options = options
        self.face_map: FaceMap[SourceFace] = FaceMap()
        self.entries: tuple[MappedEntry, ...] = ()
        self._from_photos: dict[str, str] = {}  # target photo -> the name its person has in the map

    # -- what the tabs use ------------------------------------------------------------------------------------
    @property
    def default(self) -> SourceFace | None:
        return self.face_map.default

    @property
    def cast(self) -> Any:
        """The source of photos, videos and live: the map when someone is mapped, else the default (or None)."""
        return self.face_map if self.face_map.people else self.face_map.default

    @property
    def live_cast(self) -> Any:
        """As `cast`, but never None: with no source at all, live still finds and tracks people (nobody is
        swapped), so that a face in the preview can be clicked and given a source."""
        cast = self.cast
        return cast if cast is not None else self.face_map

    def set_default(self, source: SourceFace | None) -> None:
        """The source panel's identity changed: everyone not mapped gets the new one."""
        self._set(replace(self.face_map, default=source), self.entries)

    # -- adding and removing people -----------------------------------------------------------------------------
    def map_seen(self, frame: Frame, person: Person, choice: SourceChoice) -> asyncio.Task[None]:
        """Give the person seen in a camera frame (before the swap) the source `choice`. A person already
        mapped keeps their name and gets the new source."""
        return self._tasks.spawn(self._map_seen(person.mapped, frame, person.face, choice))

    async def _map_seen(self, mapped: str | None, frame: Frame, face: Face, choice: SourceChoice) -> None:
        engine = self._engines.engine
        try:
            (embedding, thumb), (source, source_thumb) = await asyncio.gather(
                self._tasks.run(_person_from_frame, engine, frame, face),
                self._tasks.run(resolve_source, engine, choice, self._options()))
        except DLCError as exc:
            self.message.emit(user_text(exc), "error")
            return
        name = mapped or self._new_name("Person")  # named once done: two quick clicks get two names
        self._add(name, name, embedding, source, choice, thumb, source_thumb)

    def map_from_photos(self, target: str, source_photo: str) -> asyncio.Task[None]:
        """Give the person in the photo `target` (its largest face) the face in `source_photo` (--map)."""
        return self._tasks.spawn(self._map_from_photos(target, source_photo))

    async def _map_from_photos(self, target: str, source_photo: str) -> None:
        engine, options = self._engines.engine, self._options()
        choice = SourceChoice(Path(source_photo).name, path=source_photo)
        try:
            source, source_thumb = await self._tasks.run(resolve_source, engine, choice, options)
            embedding, thumb = await self._tasks.run(_person_from_photo, engine, target, options, source)
        except NoFaceError as exc:
            self.message.emit(f"{user_text(exc)}: use a photo that shows the person's face clearly.", "warning")
            return
        except DLCError as exc:
            self.message.emit(user_text(exc), "error")
            return
        # The same target photo again: the same person, who gets the new source.
        name = self._from_photos.get(target) or self._new_name(Path(target).stem)
        self._from_photos[target] = name
        self._add(name, f"Person in {Path(target).name}", embedding, source, choice, thumb, source_thumb)

    def remove(self, name: str) -> None:
        """`name` follows the default again (or is left alone, as `others` says)."""
        if all(p.name != name for p in self.face_map.people):
            return
        self._set(self.face_map.without_person(name), tuple(e for e in self.entries if e.name != name))

    def clear(self) -> None:
        self._set(FaceMap(default=self.face_map.default), ())

    # -- internals --------------------------------------------------------------------------------------------
    def _new_name(self, stem: str) -> str:
        taken = {p.name for p in self.face_map.people}
        for n in itertools.count(1):
            name = f"{stem} {n}"
            if name not in taken:
                return name
        raise AssertionError("unreachable")

    def _add(self, name: str, label: str, embedding: Embedding, source: SourceFace, choice: SourceChoice,
             thumb: FrameImage | None, source_thumb: FrameImage | None) -> None:
        entry = MappedEntry(name, label, choice.name, thumb, source_thumb)
        entries = tuple(e for e in self.entries if e.name != name) + (entry,)
        self._set(self.face_map.with_person(name, embedding, source), entries)
        self.message.emit(f"{label} now gets {choice.name}.", "info")

    def _set(self, face_map: FaceMap[SourceFace], entries: tuple[MappedEntry, ...]) -> None:
        people_changed = entries != self.entries
        self.face_map, self.entries = face_map, entries
        if people_changed:
            self.people_changed.emit(entries)
        self.cast_changed.emit(self.cast)
