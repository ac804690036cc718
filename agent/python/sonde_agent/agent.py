"""The agent: follows requests (begin, route, finish), keeps the catalogue, runs sessions and the sampler,
and hands finished requests to the link. Every entry point the app calls catches its own errors: nothing
the agent does may reach a request."""

import os
import sys
import threading
import time
import weakref

from . import cpu
from .catalogue import Catalogue
from .frames import FrameTable
from .log import error_once, log
from .request_state import RequestState, reset_pid
from .routes import PathCache, template_route

try:
    import contextvars
    current_request = contextvars.ContextVar("sonde_request", default=None)
except ImportError:  # pragma: no cover
    current_request = None

MIN_INTERVAL_MS = 1
MAX_INTERVAL_MS = 1000


class LoopState:
    """An event loop that serves sampled requests: its thread, and those requests."""

    __slots__ = ("ident", "cpu", "last_cpu", "requests")

    def __init__(self, ident, native_id):
        self.ident = ident
        self.cpu = cpu.reader_for(native_id)
        self.last_cpu = self.cpu.read_ns()
        self.requests = set()


class Agent:
    """One per process (a forked child makes its own, see `after_fork`)."""

    def __init__(self, config=None, link_factory=None):
        self.config = config
        self._link_factory = link_factory
        self._init_state()

    def _init_state(self):
        self.pid = os.getpid()
        self.catalogue = Catalogue(namer=self._name)
        self.table = FrameTable()
        self.paths = PathCache()
        self._routes = {}
        self.lock = threading.Lock()
        self.sample_lock = threading.Lock()
        self.sessions = ()
        self.threads = {}
        self.loops = weakref.WeakKeyDictionary()
        self.tasks = weakref.WeakKeyDictionary()
        self.sampler = None
        self._saved_switch_interval = None
        self.link = None
        self._link_started = False
        self.on_session_end = None

    # ───────────── the app's side: called on request threads ─────────────

    def begin(self, method, path, loop=None, task=None):
        """A request starts; returns its state, or None if the agent cannot follow it. (The WSGI
        middleware inlines the idle half of this: keep the two alike.)"""
        try:
            if not self._link_started:
                self._start_link()
            req = RequestState(method, path)
            if self.sessions:
                self.consider(req, loop, task)
            return req
        except Exception as exc:
            error_once("begin", "could not follow a request", exc)
            return None

    def begin_followed(self, method, path):
        """For a flat request path (the Django patch) while sessions run: a followed RequestState if one of
        them may take a request with this method and path, else None, the request staying on the idle path.
        One pass over the sessions, and no RequestState for a request none of them wants."""
        try:
            interval_ms = self._finest_interval_ms(method, path)
            if interval_ms is None:
                return None
            req = RequestState(method, path)
            self._follow(req, None, None, interval_ms * 1000.0)
            return req
        except Exception as exc:
            error_once("begin", "could not follow a request", exc)
            return None

    def consider(self, req, loop=None, task=None):
        """While sessions run: follows `req` if one of them may take it, at the finest interval of those
        (the sampler may run finer for another session: the request keeps only the ticks on its own grid)."""
        interval_ms = self._finest_interval_ms(req.method, req.path, req.start_perf)
        if interval_ms is not None:
            self._follow(req, loop, task, interval_ms * 1000.0)

    def _finest_interval_ms(self, method, path, started_perf=None):
        """The finest interval of the running sessions that may take this request (Session.may_take), or None."""
        interval_ms = None
        for s in self.sessions:
            if s.may_take(method, path, started_perf) and (interval_ms is None or s.interval_ms < interval_ms):
                interval_ms = s.interval_ms
        return interval_ms

    def _follow(self, req, loop, task, interval_us=0.0):
        req.follow(interval_us)
        if loop is None:
            req.ident = threading.get_ident()
            req.cpu = cpu.reader_for(threading.get_native_id())
            # Not schedstat: its run-queue part comes from the sampler's readings (sampler.py).
            req.last_cpu = (cpu.own_cpu_ns(), cpu.NO_RUNQ)
            with self.sample_lock:
                self.threads[req.ident] = req
        else:
            req.loop = loop
            req.task = task
            with self.sample_lock:
                ls = self.loops.get(loop)
                if ls is None:
                    ls = self.loops[loop] = LoopState(threading.get_ident(), threading.get_native_id())
                ls.requests.add(req)
                if task is not None:
                    self.tasks[task] = req
        sampler = self.sampler
        if sampler is not None and sampler.resting:
            sampler.wake()

    def lend_thread(self, req):
        """A request served on a loop hands work to a worker thread (a sync endpoint under ASGI): until
        `return_thread`, the sampler follows it on this thread, as a WSGI request, and not on the loop.
        Returns a token for `return_thread`, or None when there is nothing to follow."""
        if req is None or not req.sampled or req.finished or req.loop is None:
            return None
        try:
            reader = cpu.reader_for(threading.get_native_id())
            with self.sample_lock:
                if req.ident is not None:
                    return None  # already lent: nested work stays with the first thread
                req.ident = threading.get_ident()
                req.cpu = reader
                req.last_cpu = (cpu.own_cpu_ns(), cpu.NO_RUNQ)
                self.threads[req.ident] = req
            sampler = self.sampler
            if sampler is not None and sampler.resting:
                sampler.wake()
            return req.ident
        except Exception as exc:
            error_once("lend", "could not follow a worker thread", exc)
            return None

    def return_thread(self, req, token):
        if token is None:
            return
        try:
            with self.sample_lock:
                if self.threads.get(token) is req:
                    del self.threads[token]
                if not req.finished:
                    req.end_perf = time.perf_counter()
                    self._charge_tail(req)
                    req.end_perf = None
                req.ident = None
                req.cpu = None
                req.walk = None
        except Exception as exc:
            error_once("return", "could not stop following a worker thread", exc)

    def set_route(self, template, req=None):
        """The framework routed the current request: its type is `METHOD template` from now on. Only the
        template is kept here; it is put in Sonde's form when the type is needed (at the end, and for the
        catalogue only when it is read)."""
        try:
            if req is None:
                req = current_request.get()
            if req is not None and template and req.route is None:
                req.route = template
        except Exception as exc:
            error_once("route", "could not read a route", exc)

    def _route(self, template):
        route = self._routes.get(template)
        if route is None:
            route = template_route(str(template))
            if len(self._routes) < 5000:
                self._routes[template] = route
        return route

    def _name(self, method, template, path):
        return "%s %s" % (method, self._route(template) if template is not None else self.paths.get(path))

    def count_idle(self, req):
        """An idle request (one no session follows) ended: counted in the catalogue, named when the
        catalogue is read. The whole of what an idle request costs at its end; `finish` and the WSGI
        response's `close` both end here."""
        req.finished = True
        status = req.status
        self.catalogue.record_request(req.method, req.route, req.path, (time.perf_counter() - req.start_perf) * 1000.0,
                                      req.outcome != "ok" or (status is not None and status >= 500))

    def finish(self, req):
        """A request ended (response sent, or raised, or the client went away)."""
        if req is None or req.finished:
            return
        try:
            if not req.sampled:
                self.count_idle(req)
                return
            end = time.perf_counter()
            req.end_perf = end
            with self.sample_lock:
                req.finished = True
                if req.loop is None:
                    if self.threads.get(req.ident) is req:
                        del self.threads[req.ident]
                    if req.last_stack is not None:
                        self._charge_tail(req)
                else:
                    ls = self.loops.get(req.loop)
                    if ls is not None:
                        ls.requests.discard(req)
            type_ = self.catalogue.type_name(req.method, req.route, req.path)
            error = req.outcome != "ok" or (req.status is not None and req.status >= 500)
            self.catalogue.record(type_, (end - req.start_perf) * 1000.0, error)
            self._deliver(req, type_)
        except Exception as exc:
            error_once("finish", "could not finish a request", exc)

    def _charge_tail(self, req):
        """The time from the last tick to the end, measured on the request's own thread, goes to the last
        stack sampled (no sample is counted): without it a request would lose up to one interval of CPU
        or waiting at its end, most of it at coarse intervals."""
        if req.last_stack is None or req.cpu is None:
            return
        if req.ident == threading.get_ident():
            # On the request's own thread (the usual case): its CPU without a /proc read. Time runnable
            # but without a CPU is not known here: the tail gets the share the last tick saw.
            cpu_us = (cpu.own_cpu_ns() - req.last_cpu[0]) / 1000.0
            runq_us = None
        else:
            ns = req.cpu.read_ns()
            if ns[0] < 0:
                return
            cpu_us = (ns[0] - req.last_cpu[0]) / 1000.0
            runq_us = (ns[1] - req.last_cpu[1]) / 1000.0 if req.last_cpu[1] >= 0 else None
        if req.last_cpu[0] < 0:
            return
        wall_us = (req.end_perf - req.last_perf) * 1e6
        if wall_us > 0:
            cpu_us = min(max(0.0, cpu_us), wall_us)
            if runq_us is None:
                runq_us = (wall_us - cpu_us) * req.runq_share
            req.add(req.last_stack, wall_us, cpu_us, runq_us, count=0)

    def _deliver(self, req, type_):
        """Hands a finished request to the sessions of its type. Its tree and JSON are made by the link
        thread when it sends them (tree.py), not here on the request's thread."""
        # What the sampler needed and the record does not: a task or loop must not outlive the request here.
        req.task = req.loop = req.cpu = req.walk = None
        ended = None
        with self.lock:
            for s in self.sessions:
                if s.request == type_ and s.take(req, type_):
                    ended = [s] if ended is None else ended + [s]
            if ended:
                self._drop_ended()
        if ended:
            self._notify(ended)

    # ───────────── the operator's side: called on the link thread ─────────────

    def start_session(self, id_, request, limit, deadline_ms, interval_ms):
        # Imported with the first session: a process that never profiles never loads them.
        from .session import Session
        interval_ms = min(MAX_INTERVAL_MS, max(MIN_INTERVAL_MS, interval_ms))
        s = Session(id_, request, limit, deadline_ms, interval_ms)
        with self.lock:
            if any(x.id == id_ for x in self.sessions):
                return None
            self.sessions = self.sessions + (s,)
            self._ensure_sampler()
        log.info("session %s started: %s, %d requests, every %s ms", id_, request, s.limit, interval_ms)
        return s

    def stop_session(self, id_, reason, error=None):
        ended = []
        with self.lock:
            for s in self.sessions:
                if s.id == id_ and s.end(reason, error):
                    ended.append(s)
            self._drop_ended()
        self._notify(ended)
        return bool(ended)

    def check_deadlines(self, now_ms=None):
        now_ms = time.time() * 1000 if now_ms is None else now_ms
        ended = []
        with self.lock:
            for s in self.sessions:
                if s.past_deadline(now_ms) and s.end("deadline"):
                    ended.append(s)
            if ended:
                self._drop_ended()
        self._notify(ended)

    def session(self, id_):
        for s in self.sessions:
            if s.id == id_:
                return s
        return None

    def _drop_ended(self):
        self.sessions = tuple(s for s in self.sessions if s.state != "ended")
        self._ensure_sampler()

    def _ensure_sampler(self):
        """Runs the sampler at the finest interval of the running sessions; none when there are none."""
        want = min((s.interval_ms for s in self.sessions), default=None)
        cur = self.sampler
        if cur is not None and (want is None or abs(cur.interval_s * 1000 - want) > 1e-9):
            cur.stop()
            self.sampler = None
        if want is not None and self.sampler is None:
            try:
                from .sampler import Sampler
                self._shorten_switch_interval(want / 1000.0)
                self.sampler = Sampler(self, want / 1000.0)
                self.sampler.start()
            except Exception as exc:
                error_once("sampler-start", "could not start the sampler", exc)
                self.sampler = None
        if want is None:
            self._restore_switch_interval()
            # Dormant again: no request is followed any more.
            with self.sample_lock:
                self.threads.clear()
                for ls in self.loops.values():
                    ls.requests.clear()

    def _shorten_switch_interval(self, interval_s):
        """While sampling, a thread computing in Python holds the GIL for up to the switch interval (5 ms)
        before the sampler can run; the sampler would then mostly see threads where they release the GIL
        by themselves (a send, a sleep), and a CPU burst shorter than 5 ms would be charged to the I/O
        after it. A quarter of the sampling interval keeps the sample within the burst it lands in. The
        app's own value comes back when the last session ends."""
        if self._saved_switch_interval is None:
            self._saved_switch_interval = sys.getswitchinterval()
        sys.setswitchinterval(max(0.0002, min(self._saved_switch_interval, interval_s / 4)))

    def _restore_switch_interval(self):
        if self._saved_switch_interval is not None:
            try:
                sys.setswitchinterval(self._saved_switch_interval)
            finally:
                self._saved_switch_interval = None

    def _notify(self, ended):
        cb = self.on_session_end
        for s in ended:
            log.info("session %s ended: %s, %d requests", s.id, s.reason, s.taken)
            if cb is not None:
                try:
                    cb(s)
                except Exception as exc:
                    error_once("session-end", "could not report a session's end", exc)

    # ───────────── connection and fork ─────────────

    def _start_link(self):
        """The link starts with the first request this process serves: a pre-fork server's master, which
        serves none, never dials; each worker does, after its fork."""
        with self.lock:
            if self._link_started:
                return
            self._link_started = True
        if self._link_factory is not None and self.config is not None and self.config.url:
            try:
                self.link = self._link_factory(self)
                self.link.start()
            except Exception as exc:
                error_once("link-start", "could not start the connection", exc)

    def after_fork(self):
        """In a forked child: the parent's threads did not come along, and its socket is not ours."""
        old = self.link
        if old is not None:
            try:
                old.forget()
            except Exception:
                pass
        cpu.reset_after_fork()
        reset_pid()
        self._init_state()

    def close(self):
        with self.lock:
            for s in self.sessions:
                s.end("stopped")
            self.sessions = ()
            self._ensure_sampler()
        if self.link is not None:
            self.link.close()
