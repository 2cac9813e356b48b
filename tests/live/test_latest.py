from __future__ import annotations

import threading
import time

from app.live.latest import LatestBox, Stamped
from app.live.stats import LiveStats


def item(seq: int) -> Stamped[int]:
    return Stamped(seq, time.perf_counter(), seq)


def test_put_replaces_unread_item_and_counts_a_drop() -> None:
    drops: list[int] = []
    box: LatestBox[int] = LatestBox("t", on_drop=lambda: drops.append(1))
    assert box.put(item(1)) is False
    assert box.put(item(2)) is True
    assert box.put(item(3)) is True
    assert box.peek_waiting() == 1
    got = box.get(timeout=0)
    assert got is not None and got.seq == 3 and got.value == 3
    assert box.drops == 2 and len(drops) == 2 and box.puts == 3 and box.takes == 1
    assert box.get(timeout=0.01) is None  # taken: empty again


def test_get_waits_for_the_next_item() -> None:
    box: LatestBox[int] = LatestBox()
    threading.Timer(0.05, lambda: box.put(item(7))).start()
    t0 = time.perf_counter()
    got = box.get(timeout=2.0)
    assert got is not None and got.seq == 7 and time.perf_counter() - t0 < 1.0


def test_close_wakes_waiters_and_hands_out_the_last_item() -> None:
    box: LatestBox[int] = LatestBox()
    results: list[object] = []
    waiter = threading.Thread(target=lambda: results.append(box.get(timeout=5.0)))
    waiter.start()
    time.sleep(0.05)
    box.close()
    waiter.join(1.0)
    assert not waiter.is_alive() and results == [None]
    box2: LatestBox[int] = LatestBox()
    box2.put(item(1))
    box2.close()
    assert box2.put(item(2)) is False  # refused once closed
    last = box2.get(timeout=0)
    assert last is not None and last.seq == 1 and box2.drained and box2.get(timeout=0) is None


def test_stats_snapshot_and_line() -> None:
    stats = LiveStats(window_s=2.0)
    t0 = 100.0
    for i in range(31):
        stats.record_capture(t0 + i / 30)
    for i in range(11):
        stats.record_output(t0 + i / 10 - 0.05, t=t0 + i / 10)
        stats.record_timings({"detect": 10.0, "swap": 40.0})
    stats.record_drop("capture->worker", 3)
    snap = stats.snapshot(now=t0 + 1.0)
    assert abs(snap.camera_fps - 30) < 0.5 and abs(snap.output_fps - 10) < 0.5
    assert abs(snap.latency_p50_ms - 50) < 1 and abs(snap.latency_p95_ms - 50) < 1
    assert snap.stage_ms["swap"] == 40.0 and snap.drops["capture->worker"] == 3 and snap.total_drops == 3
    line = snap.format()
    assert (
        "camera 30.0 fps" in line and "output 10.0 fps" in line and "p95 50 ms" in line and "\n" not in line
    )


def test_slow_output_rate_reads_as_its_real_rate_not_zero() -> None:
    from app.live.stats import LiveStats

    stats = LiveStats(window_s=2.0)
    for t in (0.0, 5.0, 10.0):  # one frame every 5 s, as a CPU-only loop with the real models
        stats.record_output(t, t=t)
    rate = stats._output.rate(11.0)
    assert 0.15 < rate < 0.21
    assert stats._output.rate(200.0) == 0.0  # long silent: no rate at all


def test_stats_say_the_render_how_often_the_face_is_updated_and_how_old_it_is() -> None:
    from app.core.fluid import RenderInfo

    stats = LiveStats()
    assert stats.snapshot(now=0.0).render == "" and "face" not in stats.snapshot(now=0.0).format()
    for i in range(61):  # 2 s of fluid output; a new swap every 30 frames
        t = 100.0 + i / 30
        stats.record_render(RenderInfo("fluid", shown=1, face_age_s=(i % 30) / 30, updated=1 if i % 30 == 0 else 0,
                                       swap_ms_per_face=2300.0), t=t)
    stats.record_render(RenderInfo("fluid", shown=1, pending=1, faded=1, face_age_s=1.2), t=102.01)
    snap = stats.snapshot(now=102.0)
    assert snap.render == "fluid" and abs(snap.face_fps - 1.0) < 0.05
    assert snap.face_age_ms == 1200.0 and snap.faces_waiting == 1 and snap.faces_faded == 1
    line = snap.format()
    assert "(fluid) | face updated 1.0 times a second, shown 1.2 s old, 1 waiting for a first swap" in line
    assert "1 faded (turned)" in line
    stats.record_render(None, t=102.1)  # nobody to swap in the newest frame: no age to show
    assert stats.snapshot(now=102.1).face_age_ms is None and stats.snapshot(now=102.1).render == "fluid"
