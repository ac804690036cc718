"""The request types this process has served: count, errors, latency percentiles over a recent window, as
the protocol's `catalogue` carries them (the same buckets as agent/catalogue/latency-histogram.ts)."""

import collections
import math
import threading
import time

OVERFLOW_TYPE = "(other types)"
MAX_ENTRIES = 2000
_BASE_MS = 0.01
_PER_DOUBLING = 4
BUCKETS = 96


def bucket_of(ms):
    """The log-scale bucket a latency falls in: four per doubling from 10 µs."""
    if not ms > _BASE_MS:
        return 0
    i = int(math.floor(math.log2(ms / _BASE_MS) * _PER_DOUBLING))
    return BUCKETS - 1 if i >= BUCKETS else i


def bucket_value(i):
    return _BASE_MS * 2 ** ((i + 0.5) / _PER_DOUBLING)


def quantile(q, *parts):
    total = sum(sum(p) for p in parts)
    if total == 0:
        return 0.0
    rank = max(1, math.ceil(q * total))
    seen = 0
    for i in range(BUCKETS):
        for p in parts:
            seen += p[i]
        if seen >= rank:
            return bucket_value(i)
    return bucket_value(BUCKETS - 1)


class Catalogue:
    """Counts per request type; bounded. Requests finish on many threads: `record` only appends to a deque
    (atomic under the GIL, no lock), and the counts are folded in by whoever reads them, or by a recorder
    once a batch has piled up. A lock taken by every request made threads that lost the GIL while holding
    it queue up on it: measured about 40 µs of CPU per request under gunicorn gthread with 100 threads."""

    def __init__(self, window_s=60.0, max_entries=MAX_ENTRIES, clock=time.monotonic):
        self._entries = {}
        self._pending = collections.deque()
        self._lock = threading.Lock()
        self._clock = clock
        self._window_s = window_s
        self._max = max_entries
        self._window_start = clock()
        self._folded = 0

    @property
    def version(self):
        """Grows with every recorded request, so a sender can tell whether there is anything new."""
        return self._folded + len(self._pending)

    def record(self, type_, duration_ms, error):
        self._pending.append((type_, duration_ms, error))
        if len(self._pending) >= 1024 and self._lock.acquire(False):
            try:
                self._fold()
            finally:
                self._lock.release()

    def _fold(self):
        pending = self._pending
        now = self._clock()
        if now - self._window_start >= self._window_s:
            self._rotate(now)
        while True:
            try:
                type_, duration_ms, error = pending.popleft()
            except IndexError:
                return
            e = self._entries.get(type_)
            if e is None:
                if type_ != OVERFLOW_TYPE and len(self._entries) >= self._max - 1:
                    type_ = OVERFLOW_TYPE
                    e = self._entries.get(type_)
                if e is None:
                    e = [0, 0, [0] * BUCKETS, [0] * BUCKETS]
                    self._entries[type_] = e
            e[0] += 1
            if error:
                e[1] += 1
            e[2][bucket_of(duration_ms)] += 1
            self._folded += 1

    def snapshot(self):
        with self._lock:
            self._fold()
            now = self._clock()
            if now - self._window_start >= self._window_s:
                self._rotate(now)
            out = [{"type": t, "count": e[0], "errors": e[1],
                    "p50Ms": round(quantile(0.5, e[2], e[3]), 3),
                    "p90Ms": round(quantile(0.9, e[2], e[3]), 3),
                    "p99Ms": round(quantile(0.99, e[2], e[3]), 3)} for t, e in self._entries.items()]
        out.sort(key=lambda x: (-x["count"], x["type"]))
        return out

    def _rotate(self, now):
        stale = now - self._window_start >= 2 * self._window_s
        for e in self._entries.values():
            e[3] = [0] * BUCKETS if stale else e[2]
            e[2] = [0] * BUCKETS
        self._window_start = now
