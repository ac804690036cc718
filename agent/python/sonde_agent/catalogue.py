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


# Pending requests are folded in by a request thread only past this many (an agent without a link
# thread, which never takes a snapshot); otherwise by the link thread when it sends the catalogue.
FOLD_AT = 16384


def _as_is(method, route, path):
    return route


class Catalogue:
    """Counts per request type; bounded. Requests finish on many threads: a finishing request only
    appends (method, route, path, ms, error) to a deque (atomic under the GIL, no lock); its type is
    named, its bucket found and its counts folded in when the catalogue is read (every few seconds, on
    the link thread). A lock taken by every request made threads that lost the GIL while holding it
    queue up on it (about 40 µs of CPU per request under gunicorn gthread with 100 threads); naming the
    type per request cost every request a format and two lookups, where the same few types repeat."""

    def __init__(self, window_s=60.0, max_entries=MAX_ENTRIES, clock=time.monotonic, namer=_as_is):
        self._entries = {}
        self._pending = collections.deque()
        self._lock = threading.Lock()
        self._clock = clock
        self._window_s = window_s
        self._max = max_entries
        self._window_start = clock()
        self._folded = 0
        self._namer = namer
        self._names = {}

    @property
    def version(self):
        """Grows with every recorded request, so a sender can tell whether there is anything new."""
        return self._folded + len(self._pending)

    def record(self, type_, duration_ms, error):
        """Counts one request of a known type."""
        self._pending.append((None, type_, None, duration_ms, error))
        if len(self._pending) >= FOLD_AT:
            self.fold_now()

    def record_request(self, method, route, path, duration_ms, error):
        """Counts one request by what the framework resolved (route template or None, and the path); its
        type is named when the catalogue is folded. The path names the type only when there is no route:
        a routed request's path is not kept until then (the Django flat path inlines this append)."""
        pending = self._pending
        pending.append((method, route, path if route is None else None, duration_ms, error))
        if len(pending) >= FOLD_AT:
            self.fold_now()

    def record_end(self, method, route, path, start_perf, error):
        """`record_request` for a request that ends now, started at `start_perf` (time.perf_counter)."""
        pending = self._pending
        pending.append((method, route, path if route is None else None, (time.perf_counter() - start_perf) * 1000.0, error))
        if len(pending) >= FOLD_AT:
            self.fold_now()

    def fold_now(self):
        """Folds what is pending unless another thread already does (request threads never wait here)."""
        if self._lock.acquire(False):
            try:
                self._fold()
            finally:
                self._lock.release()

    def type_name(self, method, route, path):
        """The type of a request by what the framework resolved, named once per (method, route or path) and
        kept (bounded): the same few come again and again. Safe from any thread (a lost race names it
        twice). Every followed request's end calls it: one function, not a wrapper around another."""
        key = (method, route, path if route is None else None)
        t = self._names.get(key)
        if t is None:
            t = self._namer(method, route, path)
            if len(self._names) >= 4 * MAX_ENTRIES:
                self._names.clear()
            self._names[key] = t
        return t

    def _fold(self):
        pending = self._pending
        now = self._clock()
        if now - self._window_start >= self._window_s:
            self._rotate(now)
        while True:
            try:
                method, route, path, duration_ms, error = pending.popleft()
            except IndexError:
                return
            type_ = route if method is None else self.type_name(method, route, path)
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
