"""One session on this agent, as the operator started it: which requests it takes (its type, started after
it, the first N to finish), what it has sent, and how it ended. State as data: `running` -> `ended`, by
`take` (the N-th request) or `end` (deadline, stop, error); nothing else changes the state."""

import time

from .routes import TypeFilter

RUNNING = "running"
ENDED = "ended"
END_REASONS = ("requests", "deadline", "stopped", "error")


class Session:
    """A session's counters and its finished requests waiting to be sent ((request, type) pairs)."""

    def __init__(self, id_, request, limit, deadline_ms, interval_ms, clock=time.time):
        self.id = id_
        self.request = request
        self.limit = max(1, int(limit))
        self.deadline_ms = deadline_ms
        self.interval_ms = interval_ms
        self.started_at = clock()
        # Requests are compared by the monotonic clock they started on (a wall-clock step cannot move them).
        self.started_perf = time.perf_counter()
        self.filter = TypeFilter(request)
        self.state = RUNNING
        self.reason = None
        self.error = None
        self.taken = 0
        self.samples = 0
        self.seq = 0
        self.pending = []

    def may_take(self, method, path, started_perf=None):
        """Whether a request just beginning may end up in this session (cheap: method and path prefix), one
        that began at `started_perf` (time.perf_counter) or, when None, now."""
        return self.state == RUNNING and (started_perf is None or started_perf >= self.started_perf) and self.filter.might_match(method, path)

    def take(self, req, type_):
        """Takes a finished request if it is of this session's type; returns True when that ended the session.
        The request waits in `pending` as it is (finished: nothing changes it any more) until the link
        thread encodes and sends it."""
        if self.state != RUNNING or type_ != self.request or not req.sampled or req.start_perf < self.started_perf:
            return False
        self.taken += 1
        if req.stacks or req.waiting_samples or req.blocked_samples:
            self.samples += req.sample_count()
        self.pending.append((req, type_))
        if self.taken >= self.limit:
            self.end("requests")
            return True
        return False

    def end(self, reason, error=None):
        """Ends the session once; later calls change nothing."""
        if self.state == ENDED:
            return False
        self.state = ENDED
        self.reason = reason if reason in END_REASONS else "stopped"
        if error is not None:
            self.error = str(error)[:4096]
        return True

    def past_deadline(self, now_ms):
        return self.state == RUNNING and now_ms >= self.deadline_ms
