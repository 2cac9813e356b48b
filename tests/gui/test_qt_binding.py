"""The Qt binding must keep Python's reference counts: PySide6 6.12.0 drops a reference to None each time a
signal calls a slot that takes fewer arguments than the signal sends (a button's clicked(bool) calling a method
of no arguments, the commonest connection there is), and the interpreter aborts once None's count runs out."""

from __future__ import annotations

import sys
from typing import Any

from PySide6.QtWidgets import QCheckBox, QPushButton


class _Receiver:
    def __init__(self) -> None:
        self.calls = 0

    def no_arguments(self) -> None:
        self.calls += 1


def test_slots_with_fewer_arguments_keep_reference_counts(qtbot: Any) -> None:
    receiver = _Receiver()
    button, box = QPushButton(), QCheckBox()
    qtbot.addWidget(button)
    qtbot.addWidget(box)
    button.clicked.connect(receiver.no_arguments)
    box.toggled.connect(receiver.no_arguments)
    before = sys.getrefcount(None), sys.getrefcount(True), sys.getrefcount(False)
    for _ in range(100):
        button.click()
        box.setChecked(not box.isChecked())
    after = sys.getrefcount(None), sys.getrefcount(True), sys.getrefcount(False)
    assert receiver.calls == 200
    assert all(a >= b - 20 for a, b in zip(after, before, strict=True)), (before, after)
