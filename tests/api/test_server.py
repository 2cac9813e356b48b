"""A real server on 127.0.0.1: a process that starts, answers and stops cleanly, and a load of concurrent
clients that are each answered or refused with 503, none lost or hung, with memory flat afterwards."""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
import uvicorn

from app.api import ApiSettings, create_app
from tests.api.conftest import Images, assert_clean, decode, face_change
from tests.standins import photos

ROOT = Path(__file__).resolve().parents[2]
FRAME = "/api/face-swap-video-frame"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until_up(url: str, proc: subprocess.Popen[str] | None = None, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"server exited early: {proc.communicate()}")
        try:
            if httpx.get(url + "/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError("server did not come up")


def frame_request(client: httpx.Client, base: str, images: Images) -> httpx.Response:
    return client.post(base + FRAME, files={"source_face": ("s.png", images.tom_hanks),
                                            "frame": ("f.jpg", images.astronaut_jpeg)})


def check_swapped(r: httpx.Response) -> None:
    assert r.status_code == 200, r.text
    assert r.headers["x-faces-swapped"] == "1"
    scene = photos.astronaut()
    assert face_change(decode(r.content), scene.image, scene.faces[0]) > 30


def test_server_process_starts_answers_and_stops(standin_models_dir, images):
    port = free_port()
    env = {**os.environ, "DLC_API_KEY": "k3y", "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "app", "serve", "--port", str(port), "--models-dir", str(standin_models_dir),
           "--workers", "1", "--queue", "2"]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(base, proc)
        with httpx.Client(timeout=30) as client:
            assert client.get(base + "/").json()["models"]["swapper"] is True
            denied = frame_request(client, base, images)
            assert denied.status_code == 401  # the key came from $DLC_API_KEY
            assert_clean(denied)
            client.headers["X-API-Key"] = "k3y"
            check_swapped(frame_request(client, base, images))
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode in (0, 130, -signal.SIGINT), (proc.returncode, err)
    assert "Traceback" not in err
    assert f"127.0.0.1:{port}" in out


def test_serve_warns_when_exposed_without_a_key(monkeypatch, caplog, standin_models_dir):
    import argparse

    from app.commands import serve_cmd

    calls: list[dict[str, object]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.append(kw))
    monkeypatch.delenv("DLC_API_KEY", raising=False)
    parser = argparse.ArgumentParser()
    parser.add_argument("-v", "--verbose", action="store_true")
    serve_cmd.add_parser(parser.add_subparsers())
    with caplog.at_level(logging.WARNING):
        args = parser.parse_args(["serve", "--host", "0.0.0.0", "--models-dir", str(standin_models_dir),
                                  "--cors-origin", "https://a.example", "--cors-origin", "https://b.example"])
        assert args.func(args) == 0
    assert "without an API key" in caplog.text
    assert calls[0]["host"] == "0.0.0.0" and calls[0]["port"] == 8000
    settings = serve_cmd.settings_from_args(args)
    assert settings.cors_origins == ("https://a.example", "https://b.example")
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        args = parser.parse_args(["serve", "--models-dir", str(standin_models_dir)])
        args.func(args)
        args = parser.parse_args(["serve", "--host", "0.0.0.0", "--api-key", "k", "--models-dir",
                                  str(standin_models_dir)])
        args.func(args)
    assert "without an API key" not in caplog.text


def rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    pytest.skip("no /proc/self/status")


@pytest.fixture(scope="module")
def live_server(standin_models_dir: Path) -> Iterator[tuple[str, uvicorn.Server]]:
    """uvicorn in a thread of this process (so its memory is this process's), 2 workers and 2 waiting places."""
    app = create_app(ApiSettings(models_dir=standin_models_dir, workers=2, queue_limit=2))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    wait_until_up(base)
    yield base, server
    server.should_exit = True
    thread.join(15)
    assert not thread.is_alive(), "server did not stop"


CLIENTS, PER_CLIENT = 6, 8


def load_round(base: str, images: Images) -> Counter[int]:
    def one_client(_: int) -> list[int]:
        codes = []
        with httpx.Client(timeout=httpx.Timeout(30.0)) as client:
            for _ in range(PER_CLIENT):
                r = frame_request(client, base, images)
                if r.status_code == 503:
                    assert r.json()["error"] == "overloaded" and int(r.headers["retry-after"]) >= 1
                else:
                    check_swapped(r)
                codes.append(r.status_code)
        return codes

    with ThreadPoolExecutor(CLIENTS) as clients:
        results = list(clients.map(one_client, range(CLIENTS), timeout=90))
    return Counter(code for codes in results for code in codes)


def test_concurrent_clients_are_answered_or_refused_and_memory_stays_flat(live_server, images):
    base, _ = live_server
    started = time.monotonic()
    first = load_round(base, images)  # also warms up allocator arenas and caches
    assert sum(first.values()) == CLIENTS * PER_CLIENT
    assert set(first) <= {200, 503} and first[200] > 0
    before = rss_kib()
    totals = Counter[int]()
    for _ in range(2):
        totals += load_round(base, images)
    after = rss_kib()
    assert sum(totals.values()) == 2 * CLIENTS * PER_CLIENT  # none lost
    assert set(totals) <= {200, 503} and totals[200] > 0
    assert time.monotonic() - started < 120
    health = httpx.get(base + "/health").json()
    assert health["pool"]["in_flight"] == 0  # nothing stuck
    assert health["pool"]["rejected"] == first[503] + totals[503]
    print(f"load: first {dict(first)} then {dict(totals)}; RSS {before//1024} -> {after//1024} MiB")
    assert after - before < 40 * 1024, f"RSS grew by {(after - before) / 1024:.1f} MiB under load"
