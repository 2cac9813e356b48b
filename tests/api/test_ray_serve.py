"""The API as a Ray Serve deployment on a local Ray instance (2 CPUs, stand-in models, two replicas): the
seed's requests give the same images as the single server, bad input the same 4xx JSON, overload the same
503 + Retry-After JSON; /health reports the replicas; a client's source stays cached on its replica; the
single server's load test passes; a replica killed mid-load is replaced and every request is answered."""

from __future__ import annotations

import os
import signal
import time
import warnings
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from app.api import ApiSettings, create_app
from app.api.ray_serve import APP_NAME, ServeScale, deploy
from tests.api.conftest import FORBIDDEN, Images, decode
from tests.api.test_server import FRAME, check_swapped, free_port, load_round

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

ORIGIN = "https://app.example"
SETTINGS = {"workers": 1, "queue_limit": 2, "cors_origins": (ORIGIN,)}


@pytest.fixture(scope="module")
def served(ray_local: Any, standin_models_dir: Path) -> Iterator[tuple[str, TestClient]]:
    """Serve with two replicas over the stand-in models, and the single-process app with the same settings."""
    from ray import serve

    settings = ApiSettings(models_dir=standin_models_dir, **SETTINGS)  # type: ignore[arg-type]
    base = deploy(settings, ServeScale(replicas=2, cpus_per_replica=0.5), "127.0.0.1", free_port())
    with TestClient(create_app(settings)) as single:
        yield base, single
    serve.delete(APP_NAME)
    serve.shutdown()  # frees the CPUs for the video tests that share the Ray instance


def post(client: Any, base: str, path: str, files: dict[str, Any], data: dict[str, Any] | None = None,
         headers: dict[str, str] | None = None) -> Any:
    return client.post(base + path, files=files, data=data or {}, headers=headers or {})


def seed_requests(images: Images) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    return [
        ("/api/face-swap", {"source_face": ("s.png", images.tom_hanks), "target_image": ("t.png", images.t1)},
         {"blend_strength": "0.7"}),
        ("/api/face-restore", {"image": ("a.png", images.astronaut)}, {"strength": "0.6"}),
        (FRAME, {"source_face": ("s.png", images.tom_hanks), "frame": ("f.jpg", images.astronaut_jpeg)}, {}),
    ]


def test_seed_requests_give_the_same_images_as_the_single_server(served, images):
    base, single = served
    with httpx.Client(timeout=60) as client:
        for path, files, data in seed_requests(images):
            expected, got = post(single, "", path, files, data), post(client, base, path, files, data)
            assert got.status_code == expected.status_code == 200, got.text
            assert got.headers["content-type"] == expected.headers["content-type"]
            for header in ("x-faces-swapped", "x-faces-restored"):
                assert got.headers.get(header) == expected.headers.get(header)
            assert np.array_equal(decode(got.content), decode(expected.content)), path


def bad_requests(images: Images) -> list[tuple[str, dict[str, Any] | None, dict[str, Any], bytes | None]]:
    gif = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"  # noqa: E501
    swap = "/api/face-swap"
    return [
        (swap, {"source_face": ("s", b"not an image"), "target_image": ("t", images.t1)}, {}, None),
        (swap, {"source_face": ("s", gif), "target_image": ("t", images.t1)}, {}, None),
        (swap, {"source_face": ("s", b""), "target_image": ("t", images.t1)}, {}, None),
        (swap, {"source_face": ("s", images.tom_hanks), "target_image": ("t", images.t1)}, {"face_scale": "9"}, None),
        (swap, {"source_face": ("s", images.tom_hanks)}, {}, None),
        (swap, {"source_face": ("s", images.blank), "target_image": ("t", images.t1)}, {}, None),
        ("/api/face-restore", {"image": ("b.png", images.blank)}, {}, None),
        (FRAME, None, {}, b"{}"),
        ("/api/nothing-here", {"image": ("b.png", images.blank)}, {}, None),
    ]


def test_bad_input_gives_the_same_4xx_json(served, images):
    base, single = served
    with httpx.Client(timeout=60) as client:
        for path, files, data, content in bad_requests(images):
            if content is not None:
                headers = {"content-type": "application/json"}
                expected = single.post(path, content=content, headers=headers)
                got = client.post(base + path, content=content, headers=headers)
            else:
                expected, got = post(single, "", path, files or {}, data), post(client, base, path, files or {}, data)
            assert 400 <= expected.status_code < 500
            assert (got.status_code, got.json()) == (expected.status_code, expected.json()), path
            assert not any(word in got.text for word in FORBIDDEN)


def test_openapi_and_cors_are_the_single_servers(served, images):
    base, single = served
    assert httpx.get(base + "/openapi.json").json() == single.get("/openapi.json").json()
    r = httpx.options(base + FRAME, headers={"Origin": ORIGIN, "Access-Control-Request-Method": "POST"})
    assert r.headers["access-control-allow-origin"] == ORIGIN
    r = httpx.options(base + FRAME, headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"})
    assert "access-control-allow-origin" not in r.headers


def test_health_reports_the_replicas_and_the_answering_one(served):
    base, _ = served
    body = httpx.get(base + "/health", timeout=30).json()
    assert body["status"] == "ok" and body["pool"]["workers"] == 1
    assert {m["name"]: m["status"] for m in body["models"]}["swapper"] == "loaded"
    cluster = body["cluster"]
    assert cluster["deployment_status"] == "HEALTHY" and cluster["replicas"] == {"RUNNING": 2}
    assert cluster["replica"] and cluster["pid"] > 0


def replica_pids(base: str) -> dict[str, int]:
    """Every replica's pid, reached through different session ids (the router spreads them by hash)."""
    pids: dict[str, int] = {}
    for i in range(40):
        cluster = httpx.get(base + "/health", headers={"X-Session-Id": f"probe-{i}"}, timeout=30).json()["cluster"]
        pids[cluster["replica"]] = cluster["pid"]
        if len(pids) == 2:
            break
    return pids


def test_a_clients_source_stays_cached_on_its_replica(served, images):
    base, _ = served
    assert len(replica_pids(base)) == 2  # two replicas answer
    with httpx.Client(timeout=60) as client:
        for session in ("alice", "bob"):
            caches = []
            replicas = set()
            for _ in range(4):
                r = post(client, base, FRAME, {"source_face": ("s.png", images.tom_hanks),
                                               "frame": ("f.jpg", images.astronaut_jpeg)},
                         headers={"X-Session-Id": session})
                check_swapped(r)
                caches.append(r.headers["x-source-cache"])
                health = client.get(base + "/health", headers={"X-Session-Id": session}).json()
                replicas.add(health["cluster"]["replica"])
            assert caches[1:] == ["hit", "hit", "hit"] and len(replicas) == 1, (session, caches, replicas)


def test_the_single_servers_load_test_passes_through_serve(served, images):
    base, _ = served
    started = time.monotonic()
    totals = Counter[int]()
    for _ in range(2):
        totals += load_round(base, images)  # each answer is a swapped frame or the single server's 503 JSON
    assert sum(totals.values()) == 2 * 6 * 8 and set(totals) <= {200, 503} and totals[200] > 0
    assert time.monotonic() - started < 120
    for _ in range(20):  # nothing stuck in any replica's pool
        if all(httpx.get(base + "/health", headers={"X-Session-Id": f"p{i}"}).json()["pool"]["in_flight"] == 0
               for i in range(6)):
            break
        time.sleep(0.2)
    else:
        pytest.fail("requests still in flight after the load")


def test_a_burst_past_every_queue_gets_the_single_servers_503(served, images):
    base, _ = served

    def one(_: int) -> httpx.Response:
        with httpx.Client(timeout=60) as client:
            return post(client, base, FRAME, {"source_face": ("s.png", images.tom_hanks),
                                              "frame": ("f.jpg", images.astronaut_jpeg)})

    with ThreadPoolExecutor(24) as pool:
        answers = list(pool.map(one, range(24), timeout=120))
    refused = [r for r in answers if r.status_code != 200]
    assert refused, "24 at once on 2 replicas of 1 worker + 2 places each: some must be refused"
    for r in refused:
        assert r.status_code == 503 and int(r.headers["retry-after"]) >= 1
        assert r.json() == {"error": "overloaded", "detail": "the server is busy; try again shortly"}
    for r in answers:
        if r.status_code == 200:
            check_swapped(r)


def test_a_replica_killed_mid_load_is_replaced_and_no_request_is_lost(served, images):
    base, _ = served
    before = replica_pids(base)
    assert len(before) == 2
    victim = sorted(before.values())[0]
    first: Counter[str] = Counter()
    retries = Counter[int]()
    deadline = 90.0

    def client_run(n: int) -> float:
        """8 requests, each retried after a 503 (as Retry-After asks) until answered; the time it took."""
        t0 = time.monotonic()
        with httpx.Client(timeout=60) as client:
            for i in range(8):
                for attempt in range(30):
                    r = post(client, base, FRAME, {"source_face": ("s.png", images.tom_hanks),
                                                   "frame": ("f.jpg", images.astronaut_jpeg)},
                             headers={"X-Session-Id": f"c{n}-{i}"})
                    if attempt == 0:
                        first[str(r.status_code) if r.status_code == 200 else r.json()["error"]] += 1
                    if r.status_code == 200:
                        check_swapped(r)
                        retries[attempt] += 1
                        break
                    assert r.status_code == 503 and r.json()["error"] in ("overloaded", "unavailable"), r.text
                    time.sleep(min(float(r.headers["retry-after"]), 1.0))
                else:
                    pytest.fail("a request was never answered")
        return time.monotonic() - t0

    with ThreadPoolExecutor(6) as pool:
        runs = [pool.submit(client_run, n) for n in range(6)]
        time.sleep(1.0)  # load running on both replicas
        os.kill(victim, signal.SIGKILL)
        took = [f.result(timeout=deadline) for f in runs]
    print(f"kill mid-load: first answers {dict(first)}, answered after n retries {dict(retries)}, "
          f"slowest client {max(took):.1f} s")
    assert sum(retries.values()) == 6 * 8  # every request was answered with a swapped frame
    assert max(took) < deadline
    for _ in range(120):  # Serve starts a replacement
        health = httpx.get(base + "/health", timeout=30).json()["cluster"]
        if health.get("replicas") == {"RUNNING": 2}:
            break
        time.sleep(0.5)
    else:
        pytest.fail(f"no replacement replica: {health}")
    for _ in range(60):  # and the proxy routes to it (it learns of new replicas a moment later)
        after = replica_pids(base)
        if len(after) == 2:
            break
        time.sleep(0.5)
    assert len(after) == 2 and victim not in after.values()
