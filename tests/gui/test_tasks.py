"""The task runner: long jobs never take the short pool's threads; closing cancels the long jobs that can be
cancelled and waits for them, but not for the ones that cannot be (a hash, a copy)."""

from __future__ import annotations

import threading
import time
from typing import Any

from app.gui.tasks import TaskRunner


def test_long_jobs_leave_the_short_pool_free(qloop: Any, qtbot: Any) -> None:
    runner = TaskRunner(lambda exc: None, workers=2)
    release = threading.Event()
    long_tasks = [runner.spawn(runner.run_long(release.wait, 20)) for _ in range(3)]
    qtbot.waitUntil(lambda: runner.long_jobs == 3, timeout=5000)
    short = runner.spawn(runner.run(threading.current_thread))
    qtbot.waitUntil(short.done, timeout=2000)  # at once, though three long jobs are running
    assert short.result().name.startswith("dlc-gui-task")
    release.set()
    qtbot.waitUntil(lambda: all(t.done() for t in long_tasks), timeout=5000)
    assert all(t.result() is True for t in long_tasks)
    runner.shutdown()


def test_shutdown_cancels_what_it_can_and_does_not_wait_for_the_rest(qloop: Any, qtbot: Any) -> None:
    runner = TaskRunner(lambda exc: None)
    cancel = threading.Event()
    never = threading.Event()
    cleaned: list[bool] = []

    def cancellable() -> None:
        cancel.wait(20)
        time.sleep(0.1)  # removing its partial file
        cleaned.append(True)

    runner.spawn(runner.run_long(cancellable, cancel=cancel.set))
    runner.spawn(runner.run_long(never.wait, 30))  # e.g. hashing a 500 MB file
    qtbot.waitUntil(lambda: runner.long_jobs == 2, timeout=5000)
    t0 = time.monotonic()
    runner.shutdown()
    assert time.monotonic() - t0 < 10.0  # far less than the 30 s job it must not wait for
    assert cleaned == [True]  # the cancelled job was let finish
    assert runner.long_jobs == 1  # the other one is left to end with the process (a daemon thread)
    left = [t for t in threading.enumerate() if t.name == "dlc-gui-long"]
    assert left and all(t.daemon for t in left)
    never.set()
    for t in left:
        t.join(5)
