"""Routing for the Serve deployment: a client's requests go to the same replica while it has a free
inference worker (or all its workers are busy but nothing waits: see ray_serve), so its prepared source face
(each replica's source cache) is found again; otherwise to the less loaded of two random replicas (Serve's
power of two choices).

The client is the `X-Session-Id` header when given (Serve's session header; $RAY_SERVE_SESSION_ID_HEADER_KEY
renames it), else the client's address. Replicas are ranked per client by rendezvous hashing, so adding or
removing a replica moves only the clients of that replica. Serve runs this class in each proxy."""

from __future__ import annotations

import hashlib
import random
from typing import Any

from ray.serve.request_router import PendingRequest, RequestRouter, RunningReplica


def client_key(pending: PendingRequest | None) -> str:
    if pending is None:
        return ""
    meta = pending.metadata
    if meta.session_id:
        return f"session:{meta.session_id}"
    client = str(getattr(meta, "_client", "") or "")
    host = client.rsplit(":", 1)[0]  # "1.2.3.4:5678" or "[::1]:5678": the port changes per connection
    return f"client:{host}" if host else ""


def _weight(key: str, replica: RunningReplica) -> bytes:
    return hashlib.blake2b(f"{key}|{replica.replica_id.unique_id}".encode(), digest_size=8).digest()


class SourceAffinityRouter(RequestRouter):
    def initialize_state(self, busy_at: int = 1, **kwargs: Any) -> None:
        # a replica with `busy_at` requests in hand is too busy to wait for
        self._busy_at = max(1, int(busy_at))

    def preferred(self, key: str, replicas: list[RunningReplica]) -> RunningReplica:
        return max(replicas, key=lambda r: _weight(key, r))

    async def choose_replicas(self, candidate_replicas: list[RunningReplica],
                              pending_request: PendingRequest | None = None) -> list[list[RunningReplica]]:
        if pending_request is not None:
            pending_request.routing_context.should_backoff = True  # back off between rounds, never spin
        if not candidate_replicas:
            return []
        ranks: list[list[RunningReplica]] = []
        key = client_key(pending_request)
        if key and len(candidate_replicas) > 1:
            home = self.preferred(key, candidate_replicas)
            in_hand = self.replica_queue_len_cache.get(home.replica_id)
            if in_hand is None or in_hand < getattr(self, "_busy_at", 1):
                ranks.append([home])
        ranks.append(random.sample(candidate_replicas, min(2, len(candidate_replicas))))
        return ranks
