"""The sampler thread: wakes every interval while a session runs, and for each request a session may
take, records the stack of the thread serving it (WSGI: the request's thread; ASGI: the event loop's
thread, only while the request's task is the one running). Threads serving nothing, or other request
types, are not walked. CPU and waiting are told apart by the thread's CPU time (cpu.py)."""

import sys
import threading
import time

from .log import error_once, log
from .thread_name import name_this_thread


def _current_tasks_map():
    """asyncio's loop -> running task map (a plain dict), if asyncio is in use at all."""
    tasks = sys.modules.get("asyncio.tasks")
    return getattr(tasks, "_current_tasks", None) if tasks is not None else None


class Sampler:
    """Started by the agent when the first session starts, stopped when the last one ends."""

    def __init__(self, agent, interval_s):
        self.agent = agent
        self.interval_s = interval_s
        self.ticks = 0
        self.rests = 0
        # Held until `stop`: the sleep between ticks is a timed acquire of it, which this thread wins only
        # once stopped. A timed lock acquire costs about half the CPU of `Event.wait` per wake-up (which
        # makes a lock and a condition each time): ~23 µs against ~42 on a small VM, 100 times a second.
        self._running = threading.Lock()
        self._running.acquire()
        self._stopped = False
        # While no request is followed the thread rests here, not ticking: a session whose requests come
        # seldom (or not at all) would otherwise pay 100 wake-ups a second at 10 ms for nothing.
        self.resting = False
        self._work = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sonde-sampler", daemon=True)

    def start(self):
        self._thread.start()

    def stop(self):
        self._stopped = True
        try:
            self._running.release()
        except RuntimeError:
            pass  # stopped already
        self._work.set()

    def wake(self):
        """A request is followed: the agent calls this when it finds the sampler resting."""
        self._work.set()

    def _run(self):
        name_this_thread("sonde-sampler")
        sleep = self._running.acquire
        interval_s = self.interval_s
        # Ticks keep to one grid from the start, rests or not: woken by a request, the sampler waits for the
        # grid's next tick, not a whole interval, so a request shorter than the interval is still sampled
        # in about its share of the interval (a whole interval after each wake-up would never reach one).
        origin = time.perf_counter()
        while not sleep(True, interval_s - (time.perf_counter() - origin) % interval_s):
            try:
                if not self._has_work():
                    self._rest()
                    continue
                self.tick()
            except Exception as exc:
                error_once("sampler-tick", "sampler tick failed", exc)
        # What sampling cost this process, for the operator's logs and the benchmark's explanation.
        log.info("sampler stopped: %d ticks, %.1f ms of CPU (%.1f µs a tick)", self.ticks, time.thread_time() * 1000, time.thread_time() * 1e6 / max(1, self.ticks))

    def _has_work(self):
        agent = self.agent
        if agent.threads:
            return True
        with agent.sample_lock:  # loops change under it (`Agent._follow`), as `tick` reads them
            return any(ls.requests for ls in agent.loops.values())

    def _rest(self):
        """Sleeps until a request is followed (the agent wakes it) or the sampler stops. `resting` is set
        before the last look, and the agent sets `_work` after it adds a request: one of the two sees the
        other, so no request waits for a sampler that sleeps on."""
        self.resting = True
        self.rests += 1
        self._work.clear()
        if not self._has_work() and not self._stopped:
            self._work.wait()
        self.resting = False
        # No thread's reading is from "the tick before" across a rest (`_delta_from` relies on it).
        self.ticks += 1

    def tick(self):
        agent = self.agent
        table = agent.table
        with agent.sample_lock:
            frames = sys._current_frames()
            # The map holds this very call's frame, which holds the map: a reference cycle that only the
            # collector frees, and with it every other thread's frame that returned meanwhile, locals and
            # all. One per tick made gunicorn's worker collect twice as often (about 8 µs a request of
            # GC at 10 ms; docs/BENCHMARKS.md, round 5). The sampler never samples itself: drop it.
            frames.pop(threading.get_ident(), None)
            now = time.perf_counter()
            self.ticks += 1
            now_us = now * 1e6
            tick_us = self.interval_s * 1e6
            for req in list(agent.threads.values()):
                f = frames.get(req.ident)
                if f is None or req.finished:
                    continue
                if req.interval_us > tick_us and not on_grid(now_us, tick_us, req.interval_us):
                    continue  # the sampler runs finer for another session: not one of this request's ticks
                wall_us = (now - req.last_perf) * 1e6
                reader = req.cpu
                if reader is not None:
                    ns = reader.read_ns()
                    cpu_us, runq_us = _delta_from(ns, req.last_cpu, reader, self.ticks)
                    reader.last = ns
                    reader.last_tick = self.ticks
                    off_us = wall_us - max(0.0, cpu_us)
                    req.runq_share = min(1.0, max(0.0, runq_us / off_us)) if off_us > 0 and cpu_us >= 0 else 0.0
                else:
                    ns = (-1, -1)
                    cpu_us, runq_us = -1, 0.0
                req.last_perf = now
                req.last_cpu = ns
                stack, req.walk = table.capture_from(f, req.walk)
                if stack is None:
                    req.add_server(wall_us)
                else:
                    req.add(stack, wall_us, cpu_us, runq_us)
            loops = list(agent.loops.items())
            _current_tasks = _current_tasks_map() if loops else None
            for loop, ls in loops:
                if not ls.requests:
                    continue
                current = _current_tasks.get(loop) if _current_tasks is not None else None
                owner = agent.tasks.get(current) if current is not None else None
                ns = ls.cpu.read_ns() if ls.cpu is not None else (-1, -1)
                loop_cpu_us, loop_runq_us = _delta(ns, ls.last_cpu)
                ls.last_cpu = ns
                f = frames.get(ls.ident)
                for req in list(ls.requests):
                    if req.finished or req.ident is not None:
                        continue  # finished, or lent to a worker thread and followed there
                    if req.interval_us > tick_us and not on_grid(now_us, tick_us, req.interval_us):
                        continue
                    wall_us = (now - req.last_perf) * 1e6
                    req.last_perf = now
                    if req is owner and f is not None:
                        stack = table.capture(f)
                        if stack is None:
                            req.add_server(wall_us)
                        else:
                            req.add(stack, wall_us, loop_cpu_us, loop_runq_us)
                    elif _awaiting(req):
                        req.waiting_samples += 1
                        req.waiting_us += wall_us
                    else:
                        req.blocked_samples += 1
                        req.blocked_us += wall_us


def on_grid(t_us, tick_us, interval_us):
    """Whether the tick at `t_us` is the first of its slot on a grid `interval_us` long (the Node agent's
    agent/profiling/interval-grid.ts): a request of a coarser session than the sampler's keeps one tick
    per slot, so its samples come at its own interval and each stands for about that much time."""
    if interval_us <= tick_us:
        return True
    return t_us // interval_us != (t_us - tick_us) // interval_us


def _delta(ns, last):
    """CPU and run-queue µs between two schedstat readings, (-1, 0) when either is unknown."""
    if ns[0] < 0 or last[0] < 0:
        return -1, 0.0
    return (ns[0] - last[0]) / 1000.0, (ns[1] - last[1]) / 1000.0


def _delta_from(ns, last, reader, tick):
    """As `_delta`, for a request whose previous reading may be its start's (CPU from `cpu.own_cpu_ns` on
    its own thread, run queue unknown): the run-queue time is then the thread's since the sampler's reading
    of it at the tick before, when there is one (it spans this interval; `add` caps it at the time off
    CPU), else none. CPU is not below 0: schedstat's count may lag the scheduler's by less than its tick."""
    if ns[0] < 0 or last[0] < 0:
        return -1, 0.0
    cpu_us = max(0.0, (ns[0] - last[0]) / 1000.0)
    if last[1] >= 0:
        return cpu_us, (ns[1] - last[1]) / 1000.0
    prev = reader.last
    if reader.last_tick == tick - 1 and prev[1] >= 0:
        return cpu_us, max(0.0, (ns[1] - prev[1]) / 1000.0)
    return cpu_us, 0.0


def _awaiting(req):
    """A task that waits on a future is waiting; one that is ready but not running is held up by other work."""
    task = req.task
    try:
        return task is None or task._fut_waiter is not None or task.done()
    except Exception:
        return True
