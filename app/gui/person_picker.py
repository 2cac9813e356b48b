"""Choosing who gets which source: a click on a face in the live preview opens a menu of sources for that
person (the loaded source photos, or a photo file); the Photos tab asks for a photo of the person and one of
their source. The choice goes to the face-map controller, which does the work off the UI thread."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, QPoint
from PySide6.QtWidgets import QFileDialog, QMenu, QWidget

from app.core.processor import Person
from app.core.types import Frame
from app.gui.face_map_controller import FaceMapController, SourceChoice, person_at
from app.gui.live_controller import LiveController
from app.gui.people_view import LIVE_HINT
from app.gui.source_panel import IMAGE_SUFFIXES

PHOTO_FILTER = f"Images ({' '.join(f'*{s}' for s in IMAGE_SUFFIXES)})"


def ask_photo(parent: QWidget, title: str, folder: str = "") -> str:
    name, _ = QFileDialog.getOpenFileName(parent, title, folder, PHOTO_FILTER)
    return str(name)


class PersonPicker(QObject):
    """The menu for a face clicked in the live preview."""

    def __init__(self, parent: QWidget, live: LiveController, face_map: FaceMapController,
                 choices: Callable[[], list[SourceChoice]], say: Callable[[str, str], None]) -> None:
        super().__init__(parent)
        self._parent = parent
        self._live = live
        self._map = face_map
        self._choices = choices
        self._say = say
        self.menu: QMenu | None = None  # the last menu shown
        self.task: asyncio.Task[None] | None = None  # the last mapping started
        self.ask_photo: Callable[[], str] = lambda: ask_photo(parent, "A photo of the face to give this person")

    def clicked(self, x: float, y: float, where: QPoint) -> QMenu | None:
        """The frame point (x, y) was clicked: offer sources for the person there."""
        session = self._live.session
        seen = session.people() if session is not None else None
        if seen is None:
            self._say(LIVE_HINT, "info")
            return None
        person = person_at(seen.people, x, y)
        if person is None:
            self._say("No face there: click on a face in the preview to give that person their own source.", "info")
            return None
        menu = QMenu(self._parent)
        menu.setObjectName("personMenu")
        header = menu.addAction(f"Give {person.mapped or 'this person'}\u2026")
        header.setEnabled(False)
        frame = seen.frame
        for choice in self._choices():
            action = menu.addAction(choice.label)
            action.triggered.connect(lambda _checked=False, c=choice: self._chosen(frame, person, c))
        other = menu.addAction("a photo file\u2026")
        other.triggered.connect(lambda _checked=False: self._chosen_file(frame, person))
        if person.mapped:
            menu.addSeparator()
            back = menu.addAction("the default source again")
            name = person.mapped
            back.triggered.connect(lambda _checked=False: self._map.remove(name))
        self.menu = menu
        menu.popup(where)
        return menu

    def _chosen(self, frame: Frame, person: Person, choice: SourceChoice) -> None:
        self.task = self._map.map_seen(frame, person, choice)

    def _chosen_file(self, frame: Frame, person: Person) -> None:
        path = self.ask_photo()
        if path:
            name = Path(path).name
            self._chosen(frame, person, SourceChoice(f"the face in {name}", path=path, short=name))


def ask_person_photos(parent: QWidget, folder: str = "") -> tuple[str, str] | None:
    """A photo of the person to map, then a photo of the face they should get; None when either is cancelled."""
    target = ask_photo(parent, "Map a person (1 of 2): a photo of the person", folder)
    if not target:
        return None
    source = ask_photo(parent, "Map a person (2 of 2): a photo of the face they should get", str(Path(target).parent))
    return (target, source) if source else None
