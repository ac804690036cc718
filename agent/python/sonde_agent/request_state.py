"""One request as the agent follows it: when it started, its type once routing settles it, and the samples
the sampler charged to it (per stack: samples, wall µs, CPU µs)."""

import itertools
import os
import time

_ids = itertools.count(1)
# Distinct stacks one request may hold; beyond, samples go to "(truncated)" (frame id 2 of every
# FrameTable), so a request that runs for an hour cannot grow without bound.
MAX_STACKS = 5000
_TRUNCATED = (2,)
_pid = [os.getpid()]


def reset_pid():
    """After fork: ids carry the child's pid."""
    _pid[0] = os.getpid()


class RequestState:
    """A request in flight (or just finished). `sampled` requests are the ones a session may take."""

    __slots__ = ("id", "method", "path", "route", "start_wall", "start_perf", "end_perf", "status", "outcome",
                 "sampled", "ident", "cpu", "task", "loop", "stacks", "waiting_samples", "waiting_us",
                 "blocked_samples", "blocked_us", "last_perf", "last_cpu", "last_stack", "finished", "interval_us",
                 "walk")

    def __init__(self, method, path):
        # Only what every request needs: most are never followed, and this runs on each one.
        self.method = method
        self.path = path
        self.route = None
        self.start_perf = time.perf_counter()
        self.status = None
        self.outcome = "ok"
        self.sampled = False
        self.finished = False

    def follow(self, interval_us=0.0):
        """The rest of the state, for a request a session may take, sampled every `interval_us` (0: every tick)."""
        self.sampled = True
        self.id = "%d-%d" % (_pid[0], next(_ids))
        self.start_wall = time.time() - (time.perf_counter() - self.start_perf)
        self.end_perf = None
        self.ident = None
        self.cpu = None
        self.task = None
        self.loop = None
        # stack tuple -> [cpu samples, cpu wall µs, cpu µs, waiting samples, waiting µs, held samples, held µs]
        self.stacks = {}
        self.waiting_samples = 0
        self.waiting_us = 0.0
        self.blocked_samples = 0
        self.blocked_us = 0.0
        self.last_perf = self.start_perf
        self.last_cpu = (-1, -1)
        self.last_stack = None
        # The interval this request's samples stand for (its sessions'), µs.
        self.interval_us = interval_us
        # The sampler's last walk of this request's stack, to stop the next walk where it joins (frames.py).
        self.walk = None

    def sample_count(self):
        """Samples in this request's tree."""
        n = self.waiting_samples + self.blocked_samples
        for e in self.stacks.values():
            n += e[0] + e[3] + e[5]
        return n

    def add(self, stack, wall_us, cpu_us, runq_us=0.0, count=1):
        """One tick on the request's own thread: CPU time on `stack`; time runnable but without a CPU as
        held up by other work, the rest (sleeping: I/O, locks, the GIL) as waiting, both under `stack`'s
        leaf. The sample counts where most of the tick went."""
        e = self.stacks.get(stack)
        if e is None:
            if len(self.stacks) >= MAX_STACKS:
                stack = _TRUNCATED
                e = self.stacks.get(stack)
            if e is None:
                e = self.stacks[stack] = [0, 0.0, 0.0, 0, 0.0, 0, 0.0]
        self.last_stack = stack
        if cpu_us < 0:
            cpu_us, runq_us = wall_us, 0.0
        cpu_us = min(cpu_us, wall_us)
        runq_us = max(0.0, min(runq_us, wall_us - cpu_us))
        wait_us = wall_us - cpu_us - runq_us
        e[1] += cpu_us
        e[2] += cpu_us
        e[4] += wait_us
        e[6] += runq_us
        if cpu_us >= wait_us and cpu_us >= runq_us:
            e[0] += count
        elif wait_us >= runq_us:
            e[3] += count
        else:
            e[5] += count

    def add_server(self, wall_us):
        """A tick while the server, not the app, had the request (reading it, writing the response): waiting,
        as the Node agent counts a request whose handler has returned."""
        self.waiting_samples += 1
        self.waiting_us += wall_us
