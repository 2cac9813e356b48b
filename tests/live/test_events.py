"""The live session's event channel: order kept, statistics coalesced, notices said once, waiting bounded;
and a session tells its end exactly once, with the reason."""

from __future__ import annotations

import threading
import time

from app.errors import CameraError
from app.live.capture import SyntheticCamera
from app.live.events import Ended, EventChannel, Notice, SinkState, Stats
from app.live.runtime import LiveSession
from app.live.stats import StatsSnapshot
from tests.live.fakes import SlowEngine


def test_order_is_kept_and_only_the_newest_statistics_wait() -> None:
    channel = EventChannel()
    channel.publish(Stats(StatsSnapshot(frames_captured=1)))
    channel.publish(Stats(StatsSnapshot(frames_captured=2)))
    channel.publish(Notice("a"))
    channel.publish(Stats(StatsSnapshot(frames_captured=3)))
    channel.publish(Stats(StatsSnapshot(frames_captured=4)))
    channel.publish(SinkState("recorder", "on", "x.mp4"))
    events = channel.drain()
    assert [type(e).__name__ for e in events] == ["Stats", "Notice", "Stats", "SinkState"]
    assert [e.snapshot.frames_captured for e in events if isinstance(e, Stats)] == [2, 4]
    assert channel.drain() == []


def test_notices_are_said_once_from_any_number_of_threads() -> None:
    channel = EventChannel()
    threads = [threading.Thread(target=lambda: [channel.notice_once(f"n{i % 3}") for i in range(50)])
               for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(e.text for e in channel.drain() if isinstance(e, Notice)) == ["n0", "n1", "n2"]


def test_wait_returns_at_once_when_posted_from_another_thread() -> None:
    channel = EventChannel()
    assert channel.wait(0.01) == []
    threading.Timer(0.05, lambda: channel.publish(Ended("stopped"))).start()
    t0 = time.monotonic()
    events = channel.wait(10.0)
    assert events == [Ended("stopped")] and time.monotonic() - t0 < 5.0 and channel.ended


def _ends(session: LiveSession) -> list[Ended]:
    return [e for e in session.events.drain() if isinstance(e, Ended)]


def test_a_session_says_how_it_ended_once() -> None:
    ran_out = LiveSession(SlowEngine(0.0), SyntheticCamera(64, 48, 60.0, frames=5), face_source="src")
    ran_out.start()
    assert ran_out.wait(10.0) and ran_out.stop()
    assert _ends(ran_out) == [Ended("end of input")]

    stopped = LiveSession(SlowEngine(0.0), SyntheticCamera(64, 48, 30.0), face_source="src")
    stopped.start()
    assert stopped.stop() and stopped.stop()
    assert _ends(stopped) == [Ended("stopped")]

    class Broken(SyntheticCamera):
        def read(self):  # type: ignore[no-untyped-def]
            raise CameraError("camera unplugged")

    failed = LiveSession(SlowEngine(0.0), Broken(64, 48, 30.0), face_source="src")
    failed.start()
    assert failed.wait(10.0) and failed.stop()
    (end,) = _ends(failed)
    assert end.reason == "error" and isinstance(end.error, CameraError) and end.error is failed.error


def test_statistics_are_posted_while_the_worker_is_slow() -> None:
    """A worker taking a second per frame: statistics still come every interval (from the capture thread)."""
    session = LiveSession(SlowEngine(1.0), SyntheticCamera(64, 48, 30.0), face_source="src", stats_interval_s=0.1)
    session.start()
    try:
        stats: list[Stats] = []
        deadline = time.monotonic() + 20.0
        while len(stats) < 3 and time.monotonic() < deadline:
            stats += [e for e in session.events.wait(0.5) if isinstance(e, Stats)]
        assert len(stats) >= 3 and stats[-1].snapshot.frames_captured > stats[0].snapshot.frames_captured
    finally:
        assert session.stop(timeout=5.0)
