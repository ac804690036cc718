"""Unit tests of what makes the Python agent cheap (the idle Django path, the walk that stops where the
previous one joined, records made on the link thread) and of issue 14's Python part (each session's own
interval, functions' start lines, the app root). Run by /usr/bin/python3 against the built bundle
(SONDE_BUNDLE); test/python/unit.test.ts launches this file."""

import io
import json
import os
import sys
import threading
import time
import unittest

sys.path.insert(0, os.environ.get("SONDE_BUNDLE", os.path.join(os.path.dirname(__file__), "../../../dist/agent-bundle/python")))

import sonde_agent  # noqa: E402
from sonde_agent.agent import Agent  # noqa: E402
from sonde_agent.config import ConfigError, app_root, read_config  # noqa: E402
from sonde_agent.frames import FrameTable  # noqa: E402
from sonde_agent.sampler import on_grid  # noqa: E402
from sonde_agent.tree import record_json  # noqa: E402
from sonde_agent.wsgi import SondeWsgiMiddleware  # noqa: E402
from helpers import call_wsgi, spin  # noqa: E402


def records(agent, session):
    return [json.loads(record_json(req, type_, agent.table)) for req, type_ in session.pending]


class Walks(unittest.TestCase):
    def test_a_walk_from_the_previous_one_gives_the_full_walk(self):
        # The thread parks at each step (so both walks see the same stack: a walk of a running thread
        # can be cut by a GIL switch), through plain calls and a generator resumed from two callers.
        parked, go, stop = threading.Event(), threading.Event(), threading.Event()

        def park():
            parked.set()
            go.wait()
            go.clear()

        def gen():
            while True:
                park()
                yield 1

        def leaf(g):
            park()
            next(g)
            park()

        def middle(g, n):
            for _ in range(n):
                next(g)
                leaf(g)

        def top():
            g = gen()
            while not stop.is_set():
                middle(g, 2)
                leaf(g)

        t = threading.Thread(target=top, daemon=True)
        t.start()
        table = FrameTable()
        table.boundaries = {threading.Thread.run.__code__}
        walk = None
        joined = 0
        try:
            for _ in range(300):
                self.assertTrue(parked.wait(10))
                parked.clear()
                f = sys._current_frames()[t.ident]
                had = walk
                stack, walk = table.capture_from(f, walk)
                self.assertEqual(stack, table.capture(f))
                joined += had is not None
                go.set()
        finally:
            stop.set()
            go.set()
        self.assertGreater(joined, 250)


class Records(unittest.TestCase):
    def test_an_empty_record_is_the_same_json_as_a_built_one(self):
        from sonde_agent.request_state import RequestState
        from sonde_agent.tree import build_record
        table = FrameTable()
        for d, status, outcome in ((0.0, None, "ok"), (0.0123, 201, "error"), (12.345678, 503, "aborted"), (1000.5, 200, "ok")):
            r = RequestState("GET", "/a")
            r.follow()
            r.end_perf = r.start_perf + d
            r.status = status
            r.outcome = outcome
            fast = json.loads(record_json(r, 'GET /a/"q"', table))
            self.assertEqual(fast, json.loads(json.dumps(build_record(r, 'GET /a/"q"', table))))


def collapsed(tree):
    """A wire tree as {(frame, ...) from the root: (samples, wall, cpu)} of the nodes with values, each
    frame as (name, file, line, start line or 0): what the tree says, however its nodes are numbered."""
    strings, frames, nodes = tree["strings"], tree["frames"], tree["nodes"]
    starts = dict(zip(tree.get("starts", [])[::2], tree.get("starts", [])[1::2]))
    frame = [(strings[frames[i]], strings[frames[i + 1]], frames[i + 2], starts.get(i // 5, 0)) for i in range(0, len(frames), 5)]
    paths = {0: ()}
    out = {}
    for k in range(0, len(nodes), 5):
        parent, f, samples, wall, cpu = nodes[k:k + 5]
        self_path = paths[parent] + (frame[f],)
        paths[k // 5 + 1] = self_path
        if samples or wall or cpu:
            out[self_path] = (samples, round(wall, 3), round(cpu, 3))
    return out


class TreeRecords(unittest.TestCase):
    """Records are built from the link thread's call tree of stacks (stack_trie.py): checked against what
    the request's samples say, stack by stack."""

    def expected(self, req, table):
        def named(stack):
            return tuple((table.frames[i][0], table.frames[i][1], table.frames[i][2], table.frames[i][4]) for i in stack)
        out = {}

        def put(stack, s, w, c):
            k = named(stack)
            o = out.get(k, (0, 0.0, 0.0))
            out[k] = (o[0] + s, round(o[1] + w, 3), round(o[2] + c, 3))
        for stack, (cs, cw, cc, ws, ww, hs, hw) in req.stacks.items():
            if cs or cw:
                put(stack, cs, cw, cc)
            if ws or ww:
                put(stack + (table.waiting,), ws, ww, 0.0)
            if hs or hw:
                put(stack + (table.other_work,), hs, hw, 0.0)
        if req.waiting_samples:
            put((table.waiting,), req.waiting_samples, req.waiting_us, 0.0)
        if req.blocked_samples:
            put((table.other_work,), req.blocked_samples, req.blocked_us, 0.0)
        return out

    def random_request(self, rnd, table, codes, n_stacks):
        from sonde_agent.request_state import RequestState
        r = RequestState("GET", "/a")
        r.follow()
        r.end_perf = r.start_perf + 0.01
        for _ in range(n_stacks):
            depth = rnd.randrange(1, 40)
            stack = tuple(table._line_id(codes[rnd.randrange(len(codes))], rnd.randrange(1, 6)) for _ in range(depth))
            r.add(stack, rnd.uniform(1, 10000), rnd.uniform(-1, 10000), rnd.uniform(0, 3000))
        r.waiting_samples = rnd.randrange(3)
        r.waiting_us = r.waiting_samples * 1234.5
        r.blocked_samples = rnd.randrange(2)
        r.blocked_us = r.blocked_samples * 99.25
        return r

    def test_every_stack_and_value_is_where_the_samples_put_it(self):
        import random
        from sonde_agent.tree import build_record
        table = FrameTable()
        codes = [compile("pass", "/app/m%d.py" % i, "exec") for i in range(12)]
        rnd = random.Random(7)
        # Many records through one table: later ones reuse the paths earlier ones left in the trie.
        for _ in range(300):
            r = self.random_request(rnd, table, codes, rnd.randrange(0, 12))
            rec = build_record(r, "GET /a", table)
            self.assertEqual(collapsed(rec["tree"]), self.expected(r, table))
            # The JSON the link sends, from the kept skeletons of earlier records: the same record.
            self.assertEqual(json.loads(record_json(r, "GET /a", table)), rec)
            # "Samples charged to the request's own code": its stacks', not the server's ticks at the root.
            self.assertEqual(rec["samples"], r.sample_count() - r.waiting_samples - r.blocked_samples)
            nodes = rec["tree"]["nodes"]
            for k in range(0, len(nodes), 5):
                self.assertLess(nodes[k], k // 5 + 1)  # a parent comes before its children

    def test_records_of_one_shape_share_a_skeleton_and_keep_their_own_values(self):
        import random
        table = FrameTable()
        codes = [compile("pass", "/app/s%d.py" % i, "exec") for i in range(4)]
        rnd = random.Random(3)
        stack = tuple(table._line_id(codes[i % 4], i + 1) for i in range(25))
        seen = set()
        for k in range(20):
            from sonde_agent.request_state import RequestState
            r = RequestState("GET", "/a")
            r.follow()
            r.end_perf = r.start_perf + 0.01
            r.add(stack, 10000.0 + k, rnd.uniform(0, 10000), rnd.uniform(0, 100))
            got = json.loads(record_json(r, "GET /a", table))
            self.assertEqual(collapsed(got["tree"]), self.expected(r, table))
            seen.add(json.dumps(got["tree"]["strings"]))
        self.assertEqual(len(seen), 1)
        self.assertLessEqual(len(table.trie.skeletons), 2)  # CPU-only and CPU-plus-waiting leaves

    def test_a_fresh_trie_after_its_bound_gives_the_same_records(self):
        import random
        from sonde_agent import stack_trie
        from sonde_agent.tree import build_record
        table = FrameTable()
        codes = [compile("pass", "/app/n%d.py" % i, "exec") for i in range(30)]
        rnd = random.Random(11)
        saved = stack_trie.MAX_NODES
        stack_trie.MAX_NODES = 50
        try:
            for _ in range(100):
                r = self.random_request(rnd, table, codes, rnd.randrange(1, 6))
                self.assertEqual(collapsed(build_record(r, "GET /a", table)["tree"]), self.expected(r, table))
                self.assertEqual(collapsed(json.loads(record_json(r, "GET /a", table))["tree"]), self.expected(r, table))
            self.assertLess(len(table.trie.parent), 50 + 6 * 45)
        finally:
            stack_trie.MAX_NODES = saved

    def test_a_tree_past_its_bound_is_cut_and_each_leaf_charged_to_its_deepest_kept_node(self):
        from sonde_agent import tree as tree_module
        from sonde_agent.request_state import RequestState
        from sonde_agent.tree import build_record
        table = FrameTable()
        code = compile("pass", "/app/wide.py", "exec")
        r = RequestState("GET", "/a")
        r.follow()
        r.end_perf = r.start_perf + 0.01
        saved = tree_module.MAX_TREE_NODES
        tree_module.MAX_TREE_NODES = 10
        try:
            a = tuple(table._line_id(code, line) for line in (1, 2, 3, 4, 5, 6))
            b = a[:4] + tuple(table._line_id(code, line) for line in (20, 21, 22, 23))
            r.add(a, 100.0, 100.0)
            r.add(b, 50.0, 50.0)
            got = collapsed(build_record(r, "GET /a", table)["tree"])
            self.assertEqual(collapsed(json.loads(record_json(r, "GET /a", table))["tree"]), got)
            named = lambda s: tuple((table.frames[i][0], table.frames[i][1], table.frames[i][2], table.frames[i][4]) for i in s)
            # 9 nodes fit: all of a (6), then b's own frames 20-22; b's last frame is charged to 22.
            self.assertEqual(got, {named(a): (1, 100.0, 100.0), named(b[:7]): (1, 50.0, 50.0)})
        finally:
            tree_module.MAX_TREE_NODES = saved


class IdleDjango(unittest.TestCase):
    """The injected Django path with no session: no request object, no wrapper, types named late."""

    @classmethod
    def setUpClass(cls):
        import django
        from django.conf import settings
        if not settings.configured:
            settings.configure(DEBUG=False, SECRET_KEY="t", ALLOWED_HOSTS=["*"], ROOT_URLCONF=__name__, MIDDLEWARE=[], INSTALLED_APPS=[], LOGGING_CONFIG=None)
        from sonde_agent.autopatch import install
        install()
        django.setup()
        from django.core.handlers.wsgi import WSGIHandler
        cls.handler = WSGIHandler()

    def setUp(self):
        self.agent = Agent()
        self.agent._link_started = True
        sonde_agent._agent = self.agent

    def tearDown(self):
        sonde_agent._agent = None
        self.agent.close()

    def get(self, path):
        env = {"REQUEST_METHOD": "GET", "PATH_INFO": path, "SERVER_NAME": "x", "SERVER_PORT": "80", "wsgi.input": io.BytesIO(b""), "wsgi.url_scheme": "http"}
        status = []
        body = self.handler(env, lambda s, h, e=None: status.append(s))
        out = b"".join(body)
        body.close()
        return status[0], out, body

    def test_types_come_from_the_route_and_5xx_are_errors(self):
        for i in range(3):
            self.get("/orders/%d" % i)
        self.get("/fail/7")
        _, out, body = self.get("/stream/1")
        self.assertEqual(out, b"abc")
        # A plain HttpResponse reaches the server as Django made it: nothing wraps it.
        from django.http import HttpResponse
        _, _, plain = self.get("/orders/9")
        self.assertIs(type(plain), HttpResponse)
        got = {e["type"]: e for e in self.agent.catalogue.snapshot()}
        self.assertEqual(got["GET /orders/:id"]["count"], 4)
        self.assertEqual(got["GET /orders/:id"]["errors"], 0)
        self.assertEqual(got["GET /fail/:n"]["errors"], 1)
        self.assertEqual(got["GET /stream/:n"]["count"], 1)

    def test_a_routed_request_keeps_no_path_until_the_fold_and_an_unrouted_one_is_named_by_its_path(self):
        self.get("/orders/5")
        self.get("/no/such/page/12")  # no route: Django answers 404
        pending = list(self.agent.catalogue._pending)
        self.assertEqual([(m, r, p) for m, r, p, _ms, _err in pending], [("GET", "orders/<int:id>", None), ("GET", None, "/no/such/page/12")])
        got = {e["type"]: e["count"] for e in self.agent.catalogue.snapshot()}
        self.assertEqual(got, {"GET /orders/:id": 1, "GET /no/such/page/:id": 1})

    def test_a_session_for_another_type_leaves_other_requests_on_the_flat_path(self):
        from django.http import HttpResponse
        s = self.agent.start_session("d2", "GET /fail/:n", 5, time.time() * 1000 + 60000, 10)
        _, _, plain = self.get("/orders/3")
        self.assertIs(type(plain), HttpResponse)
        _, _, followed = self.get("/fail/3")
        # Followed on the same flat path: a plain body goes out as it is, the request ended when Django answered.
        self.assertIs(type(followed), HttpResponse)
        self.assertEqual(s.taken, 1)
        self.assertEqual([type_ for _, type_ in s.pending], ["GET /fail/:n"])
        got = {e["type"]: e["count"] for e in self.agent.catalogue.snapshot()}
        self.assertEqual((got["GET /orders/:id"], got["GET /fail/:n"]), (1, 1))

    def test_with_a_session_the_request_is_followed_and_recorded(self):
        s = self.agent.start_session("d1", "GET /orders/:id", 2, time.time() * 1000 + 60000, 2)
        self.get("/orders/1")
        self.get("/orders/2")
        self.assertEqual(s.taken, 2)
        r = records(self.agent, s)
        self.assertEqual([x["type"] for x in r], ["GET /orders/:id"] * 2)
        self.assertEqual([x["status"] for x in r], [200, 200])

    def test_a_followed_streaming_response_ends_when_the_server_closes_it(self):
        s = self.agent.start_session("d3", "GET /stream/:n", 5, time.time() * 1000 + 60000, 10)
        env = {"REQUEST_METHOD": "GET", "PATH_INFO": "/stream/1", "SERVER_NAME": "x", "SERVER_PORT": "80", "wsgi.input": io.BytesIO(b""), "wsgi.url_scheme": "http"}
        body = self.handler(env, lambda s_, h, e=None: None)
        self.assertEqual(s.taken, 0)  # not before its body went out
        self.assertEqual(b"".join(body), b"abc")
        body.close()
        self.assertEqual(s.taken, 1)
        self.assertEqual(records(self.agent, s)[0]["outcome"], "ok")

    def test_a_followed_request_whose_handler_raises_is_recorded_as_an_error_and_the_raise_goes_on(self):
        from django.test.utils import override_settings
        s = self.agent.start_session("d4", "GET /raise/:n", 5, time.time() * 1000 + 60000, 10)
        with override_settings(DEBUG_PROPAGATE_EXCEPTIONS=True):
            with self.assertRaises(ZeroDivisionError):
                self.get("/raise/1")
        self.assertEqual(s.taken, 1)
        r = records(self.agent, s)[0]
        self.assertEqual((r["type"], r["outcome"]), ("GET /raise/:n", "error"))
        self.assertEqual(self.agent.threads, {})  # the sampler no longer follows the thread


def _raise(request, n):
    return 1 // 0


def _orders(request, id):
    from django.http import HttpResponse
    return HttpResponse("ok")


def _fail(request, n):
    from django.http import HttpResponse
    return HttpResponse("no", status=503)


def _stream(request, n):
    from django.http import StreamingHttpResponse
    return StreamingHttpResponse(iter([b"a", b"b", b"c"]))


try:
    from django.urls import path as _path
    urlpatterns = [_path("orders/<int:id>", _orders), _path("fail/<int:n>", _fail), _path("stream/<int:n>", _stream), _path("raise/<int:n>", _raise)]
except ImportError:  # pragma: no cover
    urlpatterns = []


class SessionIntervals(unittest.TestCase):
    def test_the_grid_keeps_one_tick_per_slot(self):
        kept = [t for t in range(0, 100000, 2000) if on_grid(t, 2000, 10000)]
        self.assertEqual(len(kept), 10)
        self.assertTrue(all(on_grid(t, 10000, 10000) for t in range(0, 100000, 10000)))

    def test_each_session_gets_the_samples_its_own_interval_calls_for(self):
        agent = Agent()
        agent._link_started = True
        try:
            def view(environ, sr):
                spin(200)
                sr("200 OK", [])
                return [b"ok"]
            app = SondeWsgiMiddleware(view, agent=agent)
            # The fine session stays running (it wants 5) while the coarse one's request is served.
            fine = agent.start_session("fine", "GET /fine", 5, time.time() * 1000 + 60000, 2)
            coarse = agent.start_session("coarse", "GET /coarse", 1, time.time() * 1000 + 60000, 20)
            self.assertAlmostEqual(agent.sampler.interval_s, 0.002)
            for p in ("/fine", "/coarse"):
                self.assertAlmostEqual(agent.sampler.interval_s, 0.002)
                r = app({"REQUEST_METHOD": "GET", "PATH_INFO": p}, lambda *a: None)
                list(r)
                r.close()
            f, c = records(agent, fine)[0], records(agent, coarse)[0]
            per_sample_ms = lambda r: (r["cpuUs"] + r["waitingUs"] + r["blockedUs"]) / 1000.0 / r["samples"]
            # Each sample stands for its own session's interval (a busy machine delays ticks: not below it).
            # The spin is 200 ms of CPU: longer on a busy machine, so counts are held against each wall time.
            self.assertLessEqual(c["samples"], c["durationMs"] / 20 + 1)
            self.assertGreaterEqual(c["samples"], c["durationMs"] / 20 / 3)
            self.assertGreater(f["samples"], f["durationMs"] / 20 * 2)
            self.assertGreater(per_sample_ms(c), 15)
            self.assertLess(per_sample_ms(f), 8)
        finally:
            agent.close()


class TickGarbage(unittest.TestCase):
    """A tick must not leave a reference cycle behind: `sys._current_frames()` holds the sampler's own frame,
    which holds the map. Each such cycle kept every other thread's frame that returned meanwhile (and its
    locals) for the collector, and made a gunicorn worker collect twice as often."""

    def test_ticks_over_a_followed_request_leave_nothing_for_the_collector(self):
        import gc
        from sonde_agent.sampler import Sampler
        agent = Agent()
        agent._link_started = True
        stop = threading.Event()
        started = threading.Event()

        def view(environ, start_response):
            started.set()
            while not stop.is_set():
                sum(range(100))  # the followed request's thread keeps calling and returning
            start_response("200 OK", [])
            return [b"ok"]

        app = SondeWsgiMiddleware(view, agent=agent)
        # The session's own sampler runs at 1 s: the ticks below are this test's, on this thread.
        agent.start_session("s", "GET /v", 10, time.time() * 1000 + 60000, 1000)
        serving = threading.Thread(target=lambda: list(app({"REQUEST_METHOD": "GET", "PATH_INFO": "/v"}, lambda *a: None)))
        serving.start()
        started.wait(5)
        sampler = Sampler(agent, 1.0)  # its ticks are on the session's grid: each one samples
        gc.collect()
        gc.disable()
        try:
            for _ in range(200):
                sampler.tick()
                time.sleep(0.0005)
            unreachable = gc.collect()
            followed = list(agent.threads.values())
        finally:
            gc.enable()
            stop.set()
            serving.join(5)
            agent.close()
        self.assertEqual(unreachable, 0)
        # The ticks did walk the followed request's thread.
        self.assertEqual(len(followed), 1)
        self.assertGreater(followed[0].sample_count(), 100)


class OwnThreadCpu(unittest.TestCase):
    """A followed request's start and end read its CPU with one C call (time.thread_time_ns), not from
    /proc: only the sampler reads schedstat, once a tick; CPU, waiting and run-queue time stay true."""

    def serve(self, view, interval_ms=2):
        from sonde_agent import cpu
        agent = Agent()
        agent._link_started = True
        reads_here, real = [], cpu.ThreadCpu.read_ns
        me = []

        def counting(reader):
            if threading.get_ident() in me:
                reads_here.append(1)
            return real(reader)

        cpu.ThreadCpu.read_ns = counting
        try:
            def app_view(environ, sr):
                me.append(threading.get_ident())
                view()
                sr("200 OK", [])
                return [b"ok"]
            app = SondeWsgiMiddleware(app_view, agent=agent)
            s = agent.start_session("own", "GET /own", 1, time.time() * 1000 + 60000, interval_ms)
            r = app({"REQUEST_METHOD": "GET", "PATH_INFO": "/own"}, lambda *a: None)
            list(r)
            r.close()
            return records(agent, s)[0], reads_here
        finally:
            cpu.ThreadCpu.read_ns = real
            agent.close()

    def test_the_request_thread_reads_no_proc_file(self):
        rec, reads = self.serve(lambda: (spin(40), time.sleep(0.04)))
        self.assertEqual(reads, [])
        total = rec["cpuUs"] + rec["waitingUs"] + rec["blockedUs"]
        self.assertGreater(rec["samples"], 5)
        # 40 ms of CPU then 40 ms asleep: about half each (a busy machine adds run-queue time, not CPU).
        self.assertGreater(rec["cpuUs"], 30000)
        self.assertLess(rec["cpuUs"], total * 0.75)
        self.assertGreater(rec["waitingUs"], 30000)

    @unittest.skipUnless(hasattr(os, "sched_setaffinity"), "Linux only")
    def test_time_runnable_without_a_cpu_is_held_up_time(self):
        import subprocess
        cpu0 = sorted(os.sched_getaffinity(0))[0]
        rival = subprocess.Popen([sys.executable, "-c", "import os; os.sched_setaffinity(0, {%d})\nwhile True: pass" % cpu0])
        try:
            time.sleep(0.2)

            def pinned():
                os.sched_setaffinity(0, {cpu0})  # this thread only: it shares one CPU with the rival
                spin(150)
            rec, reads = self.serve(pinned, interval_ms=5)
        finally:
            rival.kill()
            rival.wait()
        self.assertEqual(reads, [])
        # Sharing a CPU with a busy process, the request waits about as long for it as it computes.
        self.assertGreater(rec["blockedUs"], rec["cpuUs"] * 0.4)
        self.assertLess(rec["waitingUs"], rec["cpuUs"] * 0.5)


class StartLines(unittest.TestCase):
    def test_frames_carry_their_functions_first_line(self):
        agent = Agent()
        agent._link_started = True
        try:
            def view(environ, sr):
                spin(30)
                sr("200 OK", [])
                return [b"ok"]
            app = SondeWsgiMiddleware(view, agent=agent)
            s = agent.start_session("l", "GET /l", 1, time.time() * 1000 + 60000, 2)
            r = app({"REQUEST_METHOD": "GET", "PATH_INFO": "/l"}, lambda *a: None)
            list(r)
            r.close()
            tree = records(agent, s)[0]["tree"]
            starts = dict(zip(tree["starts"][0::2], tree["starts"][1::2]))
            names = [tree["strings"][tree["frames"][i * 5]] for i in range(len(tree["frames"]) // 5)]
            i = next(i for i, n in enumerate(names) if n.endswith("<locals>.view"))
            self.assertEqual(starts[i], view.__code__.co_firstlineno)
            j = names.index("spin")
            self.assertEqual(starts[j], spin.__code__.co_firstlineno)
            self.assertEqual(len(starts), len(tree["starts"]) // 2)  # each frame at most once
        finally:
            agent.close()


class AppRoot(unittest.TestCase):
    def test_sonde_app_root_or_the_working_directory(self):
        self.assertEqual(read_config({"SONDE_APP_ROOT": "/srv/shop"}).root, "/srv/shop")
        self.assertEqual(read_config({}).root, os.getcwd())
        self.assertIsNone(app_root({}, getcwd=lambda: "/" + "x" * 5000))

    def test_a_bad_root_is_refused_naming_the_variable(self):
        for bad in ("relative/dir", "/" + "a" * 4096, "/x\0y"):
            with self.assertRaises(ConfigError) as e:
                read_config({"SONDE_APP_ROOT": bad})
            self.assertIn("SONDE_APP_ROOT", str(e.exception))

    def test_a_time_scale_stretches_the_link_threads_periods_and_is_bounded(self):
        from sonde_agent.link import POLL_S, Link
        config = read_config({"SONDE_URL": "ws://127.0.0.1:1/v1/agents", "SONDE_TIME_SCALE": "30"})
        link = Link(Agent(), config)
        self.assertAlmostEqual(link.poll_s, POLL_S * 30)
        self.assertAlmostEqual(link.catalogue_every_s, 150.0)
        for bad in ("0.5", "nan", "inf", "2000", "x"):
            with self.assertRaises(ConfigError):
                read_config({"SONDE_TIME_SCALE": bad})

    def test_the_hello_says_it(self):
        from sonde_agent.link import Link
        agent = Agent()
        link = Link(agent, read_config({"SONDE_URL": "ws://127.0.0.1:1/v1/agents", "SONDE_APP_ROOT": "/srv/shop"}))
        sent = []

        class Socket:
            def send(self, text):
                sent.append(text)
        link._send_hello(Socket())
        self.assertEqual(json.loads(sent[0])["agent"]["root"], "/srv/shop")



class SamplerRests(unittest.TestCase):
    """A running session whose requests do not come must not wake the sampler 100 times a second: it rests
    until a request is followed, ticks while one is in flight, and rests again after."""

    def test_it_ticks_only_while_a_followed_request_is_in_flight(self):
        agent = Agent()
        agent._link_started = True
        release = threading.Event()
        started = threading.Event()

        def view(environ, start_response):
            started.set()
            release.wait(5)
            start_response("200 OK", [])
            return [b"ok"]

        app = SondeWsgiMiddleware(view, agent=agent)
        agent.start_session("s", "GET /v", 10, time.time() * 1000 + 60000, 5)
        sampler = agent.sampler
        try:
            time.sleep(0.2)
            # Nothing followed: one look, then rest (40 intervals of 5 ms passed).
            self.assertTrue(sampler.resting)
            self.assertEqual(sampler.rests, 1)
            quiet_ticks = sampler.ticks
            serving = threading.Thread(target=call_wsgi, args=(app, "/v"))
            serving.start()
            started.wait(5)
            time.sleep(0.2)
            busy_ticks = sampler.ticks - quiet_ticks
            self.assertFalse(sampler.resting)
            self.assertGreater(busy_ticks, 10)  # ~40 at 5 ms, fewer on a loaded machine
            followed = list(agent.threads.values())
            release.set()
            serving.join(5)
            time.sleep(0.1)
            self.assertTrue(sampler.resting)
            after = sampler.ticks
            time.sleep(0.2)
            self.assertEqual(sampler.ticks, after)
            self.assertEqual(sampler.rests, 2)
        finally:
            release.set()
            agent.close()
        self.assertEqual(len(followed), 1)
        self.assertGreater(followed[0].sample_count(), 10)

    def test_short_requests_at_light_traffic_are_still_sampled_in_their_share(self):
        # Requests of ~8 ms (2 ms of CPU, then a 6 ms wait), one at a time with gaps, at a 20 ms interval:
        # the sampler rests between them. A tick lands in about a third of them when ticks keep their grid;
        # in none if each wake-up waited a whole interval (the request is over by then).
        import random
        agent = Agent()
        agent._link_started = True

        def view(environ, start_response):
            spin(2)
            time.sleep(0.006)
            start_response("200 OK", [])
            return [b"ok"]

        app = SondeWsgiMiddleware(view, agent=agent)
        agent.start_session("s", "GET /v", 1000, time.time() * 1000 + 60000, 20)
        rnd = random.Random(7)
        try:
            for _ in range(50):
                time.sleep(0.02 + rnd.random() * 0.02)
                call_wsgi(app, "/v")
            sampled = sum(1 for req, _ in agent.session("s").pending if req.sample_count() > 0)
            rests = agent.sampler.rests
        finally:
            agent.close()
        self.assertGreaterEqual(rests, 25)  # it did rest between requests
        self.assertGreaterEqual(sampled, 5)  # ~15 expected

    def test_a_resting_sampler_stops(self):
        agent = Agent()
        agent._link_started = True
        agent.start_session("s", "GET /v", 10, time.time() * 1000 + 60000, 5)
        sampler = agent.sampler
        time.sleep(0.05)
        self.assertTrue(sampler.resting)
        agent.stop_session("s", "stopped")
        sampler._thread.join(2)
        self.assertFalse(sampler._thread.is_alive())
        sampler.stop()  # twice: no error


if __name__ == "__main__":
    unittest.main()
