"""Unit tests of the Python agent's pure parts and its request path, run by /usr/bin/python3 against the
built bundle (SONDE_BUNDLE). test/python/unit.test.ts launches this file."""

import json
import os
import sys
import threading
import time
import unittest

sys.path.insert(0, os.environ.get("SONDE_BUNDLE", os.path.join(os.path.dirname(__file__), "../../../dist/agent-bundle/python")))

from sonde_agent import routes  # noqa: E402
from sonde_agent.agent import Agent  # noqa: E402
from sonde_agent.catalogue import Catalogue  # noqa: E402
from sonde_agent.config import ConfigError, read_config  # noqa: E402
from sonde_agent.operator_messages import BadMessage, parse_operator_message  # noqa: E402
from sonde_agent.session import Session  # noqa: E402
from sonde_agent.wsgi import SondeWsgiMiddleware  # noqa: E402
from helpers import call_wsgi, spin  # noqa: E402


class Routes(unittest.TestCase):
    def test_normalise_like_the_node_agent(self):
        self.assertEqual(routes.normalise_path("/orders/42?x=1"), "/orders/:id")
        self.assertEqual(routes.normalise_path("/u/3f2b1c4d-1a2b-4c3d-8e9f-0123456789ab/x#f"), "/u/:id/x")
        self.assertEqual(routes.normalise_path("/h/0123456789abcdef0123"), "/h/:id")
        self.assertEqual(routes.normalise_path("/deadbeefcafe"), "/deadbeefcafe")
        self.assertEqual(routes.normalise_path("http://example.com/a/7"), "/a/:id")
        self.assertEqual(len(routes.normalise_path("/" + "z" * 2000)), 512 - 16)

    def test_templates(self):
        self.assertEqual(routes.template_route("orders/<int:id>"), "/orders/:id")
        self.assertEqual(routes.template_route("/orders/<id>/items/<path:rest>"), "/orders/:id/items/:rest")
        self.assertEqual(routes.template_route("/orders/{id}"), "/orders/:id")
        self.assertEqual(routes.template_route("/orders/{id:int}"), "/orders/:id")
        self.assertEqual(routes.template_route("^legacy/$"), "/legacy/")

    def test_type_filter(self):
        f = routes.TypeFilter("GET /alpha/:id")
        self.assertTrue(f.might_match("GET", "/alpha/3"))
        self.assertFalse(f.might_match("GET", "/beta/3"))
        self.assertFalse(f.might_match("POST", "/alpha/3"))
        self.assertTrue(routes.TypeFilter("custom").might_match("GET", "/x"))


class Catalogues(unittest.TestCase):
    def test_counts_errors_and_percentiles(self):
        c = Catalogue()
        for ms in (1, 2, 3, 100):
            c.record("GET /a", ms, False)
        c.record("GET /a", 5, True)
        (e,) = c.snapshot()
        self.assertEqual((e["count"], e["errors"]), (5, 1))
        self.assertLess(e["p50Ms"], 5)
        self.assertGreater(e["p99Ms"], 90)

    def test_bounded(self):
        c = Catalogue(max_entries=3)
        for i in range(10):
            c.record("GET /%d" % i, 1, False)
        types = [e["type"] for e in c.snapshot()]
        self.assertEqual(len(types), 3)
        self.assertIn("(other types)", types)

    def test_a_routed_request_keeps_no_path_until_the_fold(self):
        a = Agent()
        a.catalogue.record_request("GET", "orders/<int:id>", "/orders/5", 1.0, False)
        a.catalogue.record_end("GET", "orders/<int:id>", "/orders/6", time.perf_counter(), True)
        a.catalogue.record_request("GET", None, "/no/such/page/12", 1.0, False)
        self.assertEqual([e[:3] for e in a.catalogue._pending],
                         [("GET", "orders/<int:id>", None), ("GET", "orders/<int:id>", None), ("GET", None, "/no/such/page/12")])
        got = {e["type"]: (e["count"], e["errors"]) for e in a.catalogue.snapshot()}
        self.assertEqual(got, {"GET /orders/:id": (2, 1), "GET /no/such/page/:id": (1, 0)})


class Config(unittest.TestCase):
    def test_reads_the_node_agents_variables(self):
        c = read_config({"SONDE_URL": "wss://op:7070/v1/agents", "SONDE_LABELS": "app=shop, tier=web", "POD_NAME": "p", "SONDE_CA_CERT": "PEM"})
        self.assertEqual(c.labels, {"app": "shop", "tier": "web"})
        self.assertEqual(c.pod["name"], "p")
        self.assertEqual(c.ca_cert, "PEM")

    def test_rejects_bad_values_naming_the_variable(self):
        for env, word in (({"SONDE_URL": "http://x"}, "SONDE_URL"), ({"SONDE_LABELS": "a"}, "SONDE_LABELS"), ({"SONDE_LABELS": "-x=y"}, "SONDE_LABELS"), ({"SONDE_LOG_LEVEL": "loud"}, "SONDE_LOG_LEVEL")):
            with self.assertRaises(ConfigError) as ctx:
                read_config(env)
            self.assertIn(word, str(ctx.exception))


class OperatorMessages(unittest.TestCase):
    def test_accepts_acks(self):
        self.assertEqual(parse_operator_message('{"type":"ack","session":"s","seq":3}')["retryAfterMs"], None)
        self.assertEqual(parse_operator_message('{"type":"ack","session":"s","seq":3,"retryAfterMs":500}')["retryAfterMs"], 500)
        self.assertTrue(parse_operator_message('{"type":"welcome","protocol":1,"agentId":"a","heartbeatMs":1000,"acks":true}')["acks"])

    def test_accepts_a_start(self):
        m = parse_operator_message(json.dumps({"type": "start", "session": "s", "request": "GET /a", "maxRequests": 5, "deadline": 1e12, "sampleIntervalMs": 10, "extra": 1}))
        self.assertEqual((m["maxRequests"], m["alreadyReported"]), (5, 0))

    def test_rejects_what_the_protocol_does_not_allow(self):
        bad = [
            "not json",
            "[]",
            json.dumps({"type": "launch"}),
            json.dumps({"type": "start", "session": "", "request": "x", "maxRequests": 1, "deadline": 1, "sampleIntervalMs": 10}),
            json.dumps({"type": "start", "session": "s", "request": "x", "maxRequests": 0, "deadline": 1, "sampleIntervalMs": 10}),
            json.dumps({"type": "start", "session": "s", "request": "x", "maxRequests": 1, "deadline": 1, "sampleIntervalMs": 0}),
            json.dumps({"type": "start", "session": "s", "request": "x", "maxRequests": True, "deadline": 1, "sampleIntervalMs": 10}),
            json.dumps({"type": "start", "session": "s" * 5000, "request": "x", "maxRequests": 1, "deadline": 1, "sampleIntervalMs": 10}),
            json.dumps({"type": "stop", "session": "s", "reason": "because"}),
            json.dumps({"type": "ack", "session": "s", "seq": 0}),
            json.dumps({"type": "ack", "session": "s", "seq": 1, "retryAfterMs": -5}),
            "x" * (8 * 1024 * 1024 + 1),
        ]
        for text in bad:
            with self.assertRaises(BadMessage):
                parse_operator_message(text)


class RequestPath(unittest.TestCase):
    def setUp(self):
        self.agent = Agent()
        self.agent._link_started = True

    def tearDown(self):
        self.agent.close()

    def records(self, session):
        """The session's taken requests as the link thread would send them."""
        from sonde_agent.tree import record_json
        return [json.loads(record_json(req, type_, self.agent.table)) for req, type_ in session.pending]

    def test_dormant_until_a_session_starts(self):
        app = SondeWsgiMiddleware(lambda e, sr: (sr("200 OK", []), [b"ok"])[1], agent=self.agent)
        call_wsgi(app, "/a/1")
        self.assertIsNone(self.agent.sampler)
        self.assertEqual(self.agent.threads, {})
        self.assertEqual(self.agent.catalogue.snapshot()[0]["type"], "GET /a/:id")

    def test_a_session_takes_n_requests_and_stops_sampling(self):
        def view(environ, sr):
            spin(15)
            sr("200 OK", [])
            return [b"ok"]
        app = SondeWsgiMiddleware(view, agent=self.agent)
        ended = []
        self.agent.on_session_end = ended.append
        s = self.agent.start_session("s1", "GET /a/:id", 3, time.time() * 1000 + 60000, 2)
        self.assertIsNotNone(self.agent.sampler)
        for i in range(5):
            call_wsgi(app, "/a/%d" % i)
        self.assertEqual(s.taken, 3)
        self.assertEqual([x.id for x in ended], ["s1"])
        self.assertEqual(s.reason, "requests")
        self.assertIsNone(self.agent.sampler)
        records = self.records(s)
        self.assertEqual(len(records), 3)
        self.assertTrue(all(r["status"] == 200 and r["outcome"] == "ok" for r in records))
        self.assertGreater(sum(r["samples"] for r in records), 3)
        names = {records[0]["tree"]["strings"][i] for i in records[0]["tree"]["frames"][0::5]}
        self.assertIn("RequestPath.test_a_session_takes_n_requests_and_stops_sampling.<locals>.view", names)
        # Nothing of the server side (this test's call helper) above the middleware.
        self.assertNotIn("RequestPath.call", names)

    def test_deadline(self):
        s = self.agent.start_session("s2", "GET /never", 3, time.time() * 1000 - 1, 10)
        self.agent.check_deadlines()
        self.assertEqual((s.state, s.reason), ("ended", "deadline"))
        self.assertIsNone(self.agent.sampler)

    def test_a_raising_view_is_an_error_and_the_exception_reaches_the_server_unchanged(self):
        class Boom(Exception):
            pass

        def view(environ, sr):
            raise Boom("no")
        app = SondeWsgiMiddleware(view, agent=self.agent)
        s = self.agent.start_session("s3", "GET /boom", 1, time.time() * 1000 + 60000, 5)
        with self.assertRaises(Boom):
            call_wsgi(app, "/boom")
        self.assertEqual(self.records(s)[0]["outcome"], "error")
        self.assertEqual(self.agent.catalogue.snapshot()[0]["errors"], 1)

    def test_a_client_that_goes_away_mid_body_is_aborted(self):
        def view(environ, sr):
            sr("200 OK", [])
            def body():
                for _ in range(10):
                    yield b"x"
            return body()
        app = SondeWsgiMiddleware(view, agent=self.agent)
        s = self.agent.start_session("s4", "GET /stream", 1, time.time() * 1000 + 60000, 5)
        result = app({"REQUEST_METHOD": "GET", "PATH_INFO": "/stream"}, lambda *a: None)
        it = iter(result)
        next(it)
        result.close()  # the server stops writing: the client went away
        self.assertEqual(self.records(s)[0]["outcome"], "aborted")

    def test_an_internal_error_never_reaches_the_request(self):
        app = SondeWsgiMiddleware(lambda e, sr: (sr("200 OK", []), [b"ok"])[1], agent=self.agent)
        self.agent.start_session("s5", "GET /a/:id", 5, time.time() * 1000 + 60000, 5)
        original = self.agent.catalogue.record
        self.agent.catalogue.record = lambda *a: 1 / 0
        try:
            status, out = call_wsgi(app, "/a/1")
        finally:
            self.agent.catalogue.record = original
        self.assertEqual((status, out), (["200 OK"], b"ok"))

    def test_requests_started_before_the_session_are_not_taken(self):
        started = threading.Event()
        release = threading.Event()

        def view(environ, sr):
            started.set()
            release.wait(5)
            sr("200 OK", [])
            return [b"ok"]
        app = SondeWsgiMiddleware(view, agent=self.agent)
        t = threading.Thread(target=call_wsgi, args=(app, "/a/1"))
        t.start()
        started.wait(5)
        s = self.agent.start_session("s6", "GET /a/:id", 5, time.time() * 1000 + 60000, 5)
        release.set()
        t.join()
        self.assertEqual(s.taken, 0)

    def test_after_fork_the_child_starts_clean(self):
        self.agent.start_session("s7", "GET /a/:id", 5, time.time() * 1000 + 60000, 5)
        self.agent.after_fork()
        self.assertEqual(self.agent.sessions, ())
        self.assertIsNone(self.agent.sampler)
        self.assertFalse(self.agent._link_started)


class Bounds(unittest.TestCase):
    def test_one_request_holds_a_bounded_number_of_stacks(self):
        from sonde_agent.request_state import MAX_STACKS, RequestState
        r = RequestState("GET", "/x")
        r.follow()
        for i in range(MAX_STACKS + 1000):
            r.add((10, i + 10), 100.0, 100.0)
        self.assertLessEqual(len(r.stacks), MAX_STACKS + 1)
        self.assertEqual(r.stacks[(2,)][0], 1000)

    def test_a_token_cannot_inject_headers(self):
        from sonde_agent.config import read_config
        from sonde_agent.link import Link
        agent = Agent()
        config = read_config({"SONDE_URL": "ws://127.0.0.1:1/v1/agents", "SONDE_TOKEN": "abc\r\nX-Evil: 1"})
        link = Link(agent, config)
        with self.assertRaises(ValueError):
            link._connect()


class Hello(unittest.TestCase):
    def test_a_big_catalogue_waits_for_the_welcome(self):
        from sonde_agent.config import read_config
        from sonde_agent.link import MAX_HELLO_BYTES, Link
        agent = Agent()
        for i in range(2000):
            agent.catalogue.record("GET /a-rather-long-route-name-for-the-catalogue/%d/items" % i, 1.0, False)
        link = Link(agent, read_config({"SONDE_URL": "ws://127.0.0.1:1/v1/agents"}))
        sent = []

        class FakeSocket:
            def send(self, text):
                sent.append(text)
        link._send_hello(FakeSocket())
        self.assertLessEqual(len(sent[0].encode()), MAX_HELLO_BYTES)
        self.assertEqual(json.loads(sent[0])["catalogue"], [])
        link._send_catalogue(FakeSocket())
        self.assertEqual(len(json.loads(sent[1])["entries"]), 2000)

    def test_a_small_catalogue_goes_in_the_hello(self):
        from sonde_agent.config import read_config
        from sonde_agent.link import Link
        agent = Agent()
        agent.catalogue.record("GET /a", 1.0, False)
        link = Link(agent, read_config({"SONDE_URL": "ws://127.0.0.1:1/v1/agents"}))
        sent = []

        class FakeSocket:
            def send(self, text):
                sent.append(text)
        link._send_hello(FakeSocket())
        self.assertEqual(json.loads(sent[0])["catalogue"][0]["type"], "GET /a")
        link._send_catalogue(FakeSocket())
        self.assertEqual(len(sent), 1)



class ProgressAfterFlush(unittest.TestCase):
    """A records batch tells the operator what a progress message with the same counts would: the link
    sends progress only for requests taken since its last flush."""

    def test_progress_only_for_what_no_batch_carried(self):
        from sonde_agent.config import read_config
        from sonde_agent.link import Link
        agent = Agent()
        agent._link_started = True
        link = Link(agent, read_config({"SONDE_URL": "ws://127.0.0.1:1/v1/agents"}))
        sent = []

        class FakeSocket:
            def send(self, text):
                sent.append(json.loads(text))

        def view(environ, start_response):
            start_response("200 OK", [])
            return [b"ok"]

        app = SondeWsgiMiddleware(view, agent=agent)

        s = agent.start_session("s", "GET /v", 100, time.time() * 1000 + 60000, 10)
        link.remote[s.id] = s
        try:
            call_wsgi(app, "/v")
            call_wsgi(app, "/v")
            link._flush_session(FakeSocket(), s)
            link._send_progress(FakeSocket())
            self.assertEqual([m["type"] for m in sent], ["requests"])
            self.assertEqual(len(sent[0]["requests"]), 2)
            call_wsgi(app, "/v")  # taken after the flush: only a progress says so until the next one
            link._send_progress(FakeSocket())
            link._send_progress(FakeSocket())
            self.assertEqual([(m["type"], m["requests"]) for m in sent[1:]], [("progress", 3)])
            link._flush_session(FakeSocket(), s)
            link._send_progress(FakeSocket())
            self.assertEqual([m["type"] for m in sent[2:]], ["requests"])
            self.assertEqual(len(sent[2]["requests"]), 1)
        finally:
            agent.close()


class quiet_operator:
    """A WebSocket peer on loopback that welcomes the agent with `welcome` (one unmasked text frame under
    126 bytes) and then says nothing more, reading and dropping what the agent sends."""

    def __init__(self, welcome):
        import socket
        self._srv = socket.socket()
        self._srv.bind(("127.0.0.1", 0))
        self._srv.listen(1)
        self.port = self._srv.getsockname()[1]
        self._welcome = welcome
        self._conn = None
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        import base64
        import hashlib
        import re
        try:
            conn, _ = self._srv.accept()
            self._conn = conn
            head = b""
            while b"\r\n\r\n" not in head:
                head += conn.recv(4096)
            key = re.search(rb"(?i)sec-websocket-key: *(\S+)", head).group(1)
            accept = base64.b64encode(hashlib.sha1(key + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest())
            conn.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                         b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n")
            conn.sendall(bytes([0x81, len(self._welcome)]) + self._welcome)
            while conn.recv(65536):
                pass
        except OSError:
            pass

    def close(self):
        for s in (self._conn, self._srv):
            if s is not None:
                try:
                    s.close()
                except OSError:
                    pass


class CatalogueFolding(unittest.TestCase):
    """Finished requests do not pile up in the catalogue's deque between catalogues: the link thread folds
    them each time it wakes, at most a second apart, with or without a session."""

    def test_the_link_folds_finished_requests_while_it_idles(self):
        from sonde_agent.config import read_config
        from sonde_agent.link import FOLD_EVERY_S, IDLE_POLL_S, Link
        self.assertLessEqual(FOLD_EVERY_S, IDLE_POLL_S)
        agent = Agent()
        welcome = b'{"type":"welcome","protocol":1,"agentId":"a","heartbeatMs":60000,"acks":true}'
        peer = quiet_operator(welcome)
        link = Link(agent, read_config({"SONDE_URL": "ws://127.0.0.1:%d/v1/agents" % peer.port}))
        link.fold_every_s = link.idle_poll_s = 0.05  # the same loop, faster
        link.start()
        try:
            # Welcomed, and past the first catalogue (which folds too): the next one is 5 s away.
            deadline = time.monotonic() + 5
            while link.state != "welcomed" and time.monotonic() < deadline:
                time.sleep(0.01)
            time.sleep(0.1)
            for i in range(500):
                agent.catalogue.record_request("GET", "a/<int:id>", None, 1.0, i % 10 == 0)
            deadline = time.monotonic() + 1
            while agent.catalogue._pending and time.monotonic() < deadline:
                time.sleep(0.01)
            self.assertEqual(len(agent.catalogue._pending), 0)
            # Folded, not dropped: the counts are all there.
            for i in range(100):
                agent.catalogue.record_request("GET", "a/<int:id>", None, 1.0, False)
            entry = agent.catalogue.snapshot()[0]
            self.assertEqual((entry["type"], entry["count"], entry["errors"]), ("GET /a/:id", 600, 50))
            self.assertEqual(link.state, "welcomed")
            self.assertEqual(link.connects, 1)
        finally:
            link.close()
            link._thread.join(2)
            peer.close()


class SessionStates(unittest.TestCase):
    def test_end_is_once(self):
        s = Session("s", "GET /a", 1, 0, 10)
        self.assertTrue(s.end("stopped"))
        self.assertFalse(s.end("deadline"))
        self.assertEqual(s.reason, "stopped")


class ThreadNames(unittest.TestCase):
    """The agent's own threads carry their names in the kernel, where `top -H` and the benchmark read them."""

    @staticmethod
    def kernel_name(thread):
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            if thread.native_id is not None:
                with open("/proc/self/task/%d/comm" % thread.native_id) as f:
                    name = f.read().strip()
                if name.startswith("sonde-"):
                    return name
            time.sleep(0.01)
        return name

    def test_the_sampler_and_the_link_are_named(self):
        from sonde_agent.link import Link
        from sonde_agent.sampler import Sampler
        agent = Agent()
        sampler = Sampler(agent, 0.01)
        # A link to a port where nothing listens: its thread runs (and retries) all the same.
        link = Link(agent, read_config({"SONDE_URL": "ws://127.0.0.1:1/v1/agents"}))
        sampler.start()
        link.start()
        try:
            self.assertEqual(self.kernel_name(sampler._thread), "sonde-sampler")
            self.assertEqual(self.kernel_name(link._thread), "sonde-link")
            # The app's threads keep theirs.
            with open("/proc/self/task/%d/comm" % threading.get_native_id()) as f:
                self.assertFalse(f.read().startswith("sonde-"))
        finally:
            sampler.stop()
            link.close()

    def test_a_long_name_is_cut_to_what_the_kernel_keeps(self):
        from sonde_agent.thread_name import name_this_thread
        names = []

        def run():
            name_this_thread("sonde-a-name-longer-than-fifteen")
            with open("/proc/self/task/%d/comm" % threading.get_native_id()) as f:
                names.append(f.read().strip())

        t = threading.Thread(target=run)
        t.start()
        t.join()
        self.assertEqual(names, ["sonde-a-name-lo"])


if __name__ == "__main__":
    unittest.main()
