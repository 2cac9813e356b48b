"""The source identity, off the UI thread: one photo (its faces boxed, a click picks one), or several photos of
one person made into one identity (app/core/identity.py), each photo's quality shown, with one click to leave a
photo out or use it again."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Collection, Sequence
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from app.core.analysis import largest_face
from app.core.engine import Engine, SourceFace
from app.core.identity import (
    FLAG_TEXT,
    Identity,
    SourcePhoto,
    analyse_photos,
    build_identity,
    identity_source,
    source_from_images,
)
from app.core.image_io import read_image
from app.core.options import SwapOptions
from app.core.types import Face, Frame
from app.errors import DLCError
from app.gui.face_map_controller import SourceChoice
from app.gui.messages import user_text
from app.gui.qimage import face_thumbnail
from app.gui.source_panel import SourcePanel
from app.gui.source_photos_view import PhotoRow
from app.gui.tasks import EngineHolder, TaskRunner

log = logging.getLogger(__name__)
THUMB = 44


def prepare_face(engine: Engine, image: Frame, face: Face) -> SourceFace:
    """The source for one chosen face of a photo."""
    return engine.prepare_source(image, face=face)


def photo_rows(identity: Identity) -> tuple[PhotoRow, ...]:
    rows = []
    for photo, r in zip(identity.photos, identity.reports, strict=True):
        h, w = photo.image.shape[:2]
        box = photo.face.box if photo.face is not None else (0.0, 0.0, float(w), float(h))
        thumb = face_thumbnail(photo.image, box, THUMB, margin=0.25 if photo.face is not None else 0.0)
        if photo.face is None:
            rows.append(PhotoRow(r.name, thumb, "", "", FLAG_TEXT["no-face"], False, False))
            continue
        sim = "\u2014" if r.similarity is None else f"{r.similarity:.2f}"
        details = (f"face {r.face_px:.0f} px \u00b7 sharpness {r.sharpness:.0f} \u00b7 frontal {r.frontal:.2f} "
                   f"\u00b7 similar {sim}")
        problems = "; ".join(FLAG_TEXT[f] for f in r.flags)
        rows.append(PhotoRow(r.name, thumb, f"{round(r.score * 100)} %", details, problems, r.included, True))
    return tuple(rows)


def _identity(engine: Engine, kept: Sequence[SourcePhoto], single: tuple[str, Frame, Face | None] | None,
              fresh: Sequence[tuple[str, Frame]], options: SwapOptions, exclude: Collection[int]
              ) -> tuple[SourceFace, Identity, tuple[PhotoRow, ...]]:
    """The identity of the photos already analysed (`kept`, or the one photo shown with its chosen face) and
    the `fresh` ones."""
    photos = list(kept)
    if single is not None:  # the face the user picked in it, not necessarily its largest
        name, image, face = single
        photos.append(SourcePhoto(name, image, engine.embed(image, face) if face is not None else None))
    if photos:
        identity = build_identity([*photos, *analyse_photos(engine, fresh, options)], exclude)
        source = identity_source(engine, identity)
    else:
        source, found = source_from_images(engine, fresh, options, exclude)
        identity = found if found is not None else build_identity(analyse_photos(engine, fresh, options), exclude)
    return source, identity, photo_rows(identity)


def _excluding(engine: Engine, identity: Identity, exclude: Collection[int]
               ) -> tuple[SourceFace, Identity, tuple[PhotoRow, ...]]:
    rebuilt = identity.excluding(exclude)
    return identity_source(engine, rebuilt), rebuilt, photo_rows(rebuilt)


def _excluded(identity: Identity) -> set[int]:
    """The photos left out by choice (a photo without a face is out by itself)."""
    return {i for i, (p, r) in enumerate(zip(identity.photos, identity.reports, strict=True))
            if p.face is not None and not r.included}


def _read_all(paths: Sequence[str]) -> tuple[list[tuple[str, Frame]], list[str]]:
    """The photos that could be read (path, image) and a message for each that could not."""
    read, failed = [], []
    for path in paths:
        try:
            read.append((path, read_image(path)))
        except DLCError as exc:
            failed.append(user_text(exc))
    return read, failed


class SourceController(QObject):
    source_changed = Signal(object)  # SourceFace or None
    loaded = Signal(str)  # path of a single photo that was read and searched for faces
    photos_changed = Signal(object, object)  # the photos in use (paths), the ones left out (paths)
    message = Signal(str, str)  # text, level

    def __init__(self, tasks: TaskRunner, engines: EngineHolder, panel: SourcePanel,
                 options: Callable[[], SwapOptions]) -> None:
        super().__init__()
        self._tasks = tasks
        self._engines = engines
        self._panel = panel
        self._options = options
        self.paths: list[str] = []  # the photos in use, in order (one: the single-photo view)
        self.path = ""  # the first of them
        self.image: Frame | None = None  # one photo: it, its faces, the face picked
        self.faces: list[Face] = []
        self.selected = -1
        self.identity: Identity | None = None  # several photos: their identity and what the panel shows of it
        self.rows: tuple[PhotoRow, ...] = ()
        self.source: SourceFace | None = None
        self._generation = 0  # a newer request makes an older, slower one's result stale
        panel.photos_dropped.connect(self.load_photos)
        panel.face_clicked.connect(self.pick)
        panel.photos.leave_out_toggled.connect(self.toggle_photo)

    # -- loading ----------------------------------------------------------------------------------------------
    def load(self, path: str) -> asyncio.Task[None]:
        return self.load_photos([path])

    def load_photos(self, paths: Sequence[str | Path], left_out: Collection[str] = ()) -> asyncio.Task[None]:
        """Use these photos (one: pick among its faces; several: one identity, without the `left_out` ones)."""
        wanted = list(dict.fromkeys(str(p) for p in paths))
        self._generation += 1
        if len(wanted) == 1:
            self._panel.say(f"Looking for faces in {Path(wanted[0]).name}\u2026")
        else:
            self._panel.say(f"Reading {len(wanted)} photos\u2026")
        return self._tasks.spawn(self._load(wanted, set(left_out), self._generation, add=False))

    def add_photos(self, paths: Sequence[str | Path]) -> asyncio.Task[None] | None:
        """Add photos of the same person to those in use (with none in use: use them); None when all of them
        are in use already."""
        new = [p for p in dict.fromkeys(str(p) for p in paths) if p not in self.paths]
        if not self.paths:
            return self.load_photos(new)
        if not new:
            self._panel.say("Those photos are in use already.", "info")
            return None
        self._generation += 1
        self._panel.say(f"Adding {len(new)} photo(s)\u2026")
        return self._tasks.spawn(self._load(new, self.left_out, self._generation, add=True))

    def reload(self) -> asyncio.Task[None] | None:
        """Read the photos in use again (after the models changed)."""
        return self.load_photos(self.paths, self.left_out) if self.paths else None

    @property
    def left_out(self) -> set[str]:
        if self.identity is None:
            return set()
        return {self.paths[i] for i in _excluded(self.identity)}

    async def _load(self, paths: list[str], left_out: set[str], generation: int, add: bool) -> None:
        read, failed = await self._tasks.run(_read_all, paths)
        if generation != self._generation:
            return
        for text in failed:
            self.message.emit(text, "error")
        kept: tuple[SourcePhoto, ...] = ()
        single: tuple[str, Frame, Face | None] | None = None
        if add:
            if self.identity is not None:
                kept = self.identity.photos
            elif self.image is not None:
                face = self.faces[self.selected] if 0 <= self.selected < len(self.faces) else None
                single = (Path(self.path).name, self.image, face)
        old = list(self.paths) if add else []
        if not old and len(read) == 1:
            await self._show_single(*read[0], generation)
            return
        if not read:
            if not add:
                self._panel.say(failed[0] if failed else "No photo to use.", "error")
            else:
                self._panel.say("None of the added photos could be read.", "warning")
            return
        all_paths = old + [p for p, _ in read]
        exclude = [i for i, p in enumerate(all_paths) if p in left_out]
        fresh = [(Path(p).name, image) for p, image in read]
        engine = self._engines.engine
        try:
            result = await self._tasks.run(_identity, engine, kept, single, fresh, self._options(), exclude)
        except DLCError as exc:
            if generation == self._generation:
                self._say_error(exc)
            return
        if generation == self._generation:
            self._show_identity(all_paths, *result)

    async def _show_single(self, path: str, image: Frame, generation: int) -> None:
        engine = self._engines.engine
        try:
            faces = await self._tasks.run(engine.detect, image, self._options())
        except DLCError as exc:
            if generation == self._generation:
                self._say_error(exc)
            return
        if generation != self._generation:
            return
        self.paths, self.path, self.image, self.faces = [path], path, image, faces
        self.identity, self.rows = None, ()
        self._panel.photos.show_rows(())
        self.loaded.emit(path)
        self.photos_changed.emit([path], [])
        if not faces:
            self.selected = -1
            self._panel.view.set_photo(image, [], -1)
            self._panel.say("No face found in this photo. Try a clear, front-facing one.", "warning")
            self._set_source(None)
            return
        big = largest_face(faces)
        index = faces.index(big) if big is not None else 0
        self._panel.view.set_photo(image, faces, index)
        await self._prepare(index, generation)

    def _show_identity(self, paths: list[str], source: SourceFace, identity: Identity,
                       rows: tuple[PhotoRow, ...]) -> None:
        self.paths, self.path = paths, paths[0]
        self.identity, self.rows = identity, rows
        self.faces, self.selected = [], -1
        best = max(identity.included, key=lambda i: identity.reports[i].score)
        self.image = identity.photos[best].image
        self._panel.view.set_photo(self.image, [identity.face], 0, max_height=120)
        self._panel.photos.show_rows(rows)
        flagged = [i for i in identity.flagged() if identity.reports[i].included]
        text = f"One identity from {len(identity.included)} of {len(paths)} photos"
        if flagged:
            text += f" \u2014 {len(flagged)} flagged: leave {'it' if len(flagged) == 1 else 'them'} out?"
        self._panel.say(text, "warning" if flagged else "ok")
        self.photos_changed.emit(list(paths), sorted(self.left_out))
        self._set_source(source)

    # -- leaving photos out, picking a face -------------------------------------------------------------------
    def toggle_photo(self, index: int) -> asyncio.Task[None] | None:
        """Leave photo `index` out of the identity, or use it again."""
        identity = self.identity
        if identity is None or not 0 <= index < len(identity.photos) or identity.photos[index].face is None:
            return None
        excluded = _excluded(identity) ^ {index}
        if not set(identity.included) - excluded:
            self._panel.say("The identity needs at least one photo: keep this one.", "warning")
            return None
        self._generation += 1
        self._panel.photos.set_busy(True)
        return self._tasks.spawn(self._rebuild(identity, excluded, self._generation))

    async def _rebuild(self, identity: Identity, excluded: set[int], generation: int) -> None:
        try:
            result = await self._tasks.run(_excluding, self._engines.engine, identity, excluded)
        except DLCError as exc:
            if generation == self._generation:
                self._say_error(exc)
            return
        finally:
            self._panel.photos.set_busy(False)
        if generation == self._generation:
            self._show_identity(self.paths, *result)

    def pick(self, index: int) -> asyncio.Task[None] | None:
        if self.identity is not None or self.image is None or not 0 <= index < len(self.faces) \
                or index == self.selected:
            return None
        self._panel.view.set_selected(index)
        return self._tasks.spawn(self._prepare(index, self._generation))

    async def _prepare(self, index: int, generation: int) -> None:
        assert self.image is not None
        self.selected = index
        engine = self._engines.engine
        try:
            source = await self._tasks.run(prepare_face, engine, self.image, self.faces[index])
        except DLCError as exc:
            self._say_error(exc)
            return
        if generation != self._generation or index != self.selected:
            return
        n = len(self.faces)
        more = f" \u2014 {n} faces found, click another to use it" if n > 1 else ""
        self._panel.say(f"Using face {index + 1} of {n}{more}", "ok")
        self._set_source(source)

    # -- what the face map offers ----------------------------------------------------------------------------
    def choices(self) -> list[SourceChoice]:
        """The sources a person can be given from what is loaded: the identity itself, each photo of it alone,
        or (one photo) each of its other faces."""
        out: list[SourceChoice] = []
        if self.source is not None:
            out.append(SourceChoice("the source face (everyone's default)", self.image, self.source.face, self.source,
                                    short="the source face"))
        if self.identity is not None:
            for photo in self.identity.photos:
                if photo.face is not None:
                    out.append(SourceChoice(f"the face in {photo.name}", photo.image, photo.face, short=photo.name))
        elif self.image is not None:
            name = Path(self.path).name
            out += [SourceChoice(f"face {i + 1} of {name}", self.image, face)
                    for i, face in enumerate(self.faces) if i != self.selected]
        return out

    def _say_error(self, exc: DLCError) -> None:
        self._panel.say(user_text(exc), "error")
        self.message.emit(user_text(exc), "error")

    def _set_source(self, source: SourceFace | None) -> None:
        self.source = source
        self.source_changed.emit(source)
