"""A small thread-safe least-recently-used cache: prepared source faces, by image content or upload bytes."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class LruCache(Generic[K, V]):
    """Keeps the `size` most recently used values; size 0 keeps none (every lookup makes its value again)."""

    def __init__(self, size: int) -> None:
        if size < 0:
            raise ValueError("a cache size is 0 or more")
        self.size = size
        self._items: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get_or_make(self, key: K, make: Callable[[], V]) -> tuple[V, bool]:
        """The value for `key` and whether it came from the cache. `make` runs outside the lock (it is slow);
        two first lookups of one key may both make it, harmlessly."""
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
                self.hits += 1
                return found, True
            self.misses += 1
        value = make()
        if self.size:
            with self._lock:
                self._items[key] = value
                while len(self._items) > self.size:
                    self._items.popitem(last=False)
        return value, False

    def stats(self) -> dict[str, int]:
        with self._lock:
            return {"size": len(self._items), "capacity": self.size, "hits": self.hits, "misses": self.misses}
