"""The agent's side of the protocol (src/protocol/messages.ts) on its own thread: dial the operator, hello,
sessions started and stopped, finished requests streamed in sequence-numbered batches, progress, the
catalogue when it changed, `ended`. A dead operator costs a reconnect with capped, jittered backoff;
results that cannot be sent wait in a bounded outbox."""

import collections
import json
import os
import platform
import random
import select
import ssl
import threading
import time
import uuid

from .log import error_once, log
from .operator_messages import BadMessage, parse_operator_message
from .thread_name import name_this_thread

try:
    from ._vendor import websocket
except ImportError:  # running from the source tree: the system's websocket-client
    import websocket

PROTOCOL_VERSION = 1
AGENT_VERSION = "0.1.0"
MAX_OUTBOX = 1000
MAX_REQUESTS_PER_MESSAGE = 500
TARGET_MESSAGE_BYTES = 2 * 1024 * 1024
MAX_CATALOGUE = 2000
# PROTOCOL_LIMITS.maxHelloBytes (src/protocol/messages.ts): what the operator reads before welcome.
MAX_HELLO_BYTES = 64 * 1024
# How long the link thread waits for the operator between its own chores: while a session runs, short
# (finished requests go out in batches, progress every 250 ms, deadlines); with none, only the catalogue
# (every 5 s) and the heartbeat need it, and a thread that woke 20 times a second for nothing cost every
# request a share of its wake-ups and GIL hand-offs (about 23,000 instructions a request under callgrind,
# where the request path costs 15,000).
POLL_S = 0.05
IDLE_POLL_S = 1.0
FOLD_EVERY_S = IDLE_POLL_S
# Close code of SONDE_REPLACED (src/errors.ts): a newer connection of this process (an operator that keeps
# several per pod) or, with an older operator that keeps one per pod, of another process of the pod.
REPLACED = 4008
REPLACED_PAUSE_S = 120.0
_instance = [None, ""]


def process_instance():
    """(Sonde 0.3 hello `agent.instance`) A random id per process, drawn again in a forked child."""
    if _instance[0] != os.getpid():
        _instance[0], _instance[1] = os.getpid(), uuid.uuid4().hex
    return _instance[1]

# Connection states (one at a time; `run` is the only writer).
IDLE, CONNECTING, HELLO_SENT, WELCOMED, CLOSED = "idle", "connecting", "hello-sent", "welcomed", "closed"


def next_frame(ws, timeout_s):
    """The next frame (opcode, frame), or (None, None) when none came within `timeout_s`. Most wake-ups
    of the link thread find nothing: a read that times out raises its timeout through websocket-client's
    frame reader (about twice the CPU of a `select` per wake-up on a small VM), so the read is tried only
    when bytes are there: buffered by websocket-client or by TLS, or arrived on the socket."""
    if not ws.frame_buffer.recv_buffer:
        sock = ws.sock
        pending = getattr(sock, "pending", None)
        if not (pending is not None and pending()) and not select.select((sock,), (), (), timeout_s)[0]:
            return None, None
    try:
        return ws.recv_data_frame(control_frame=True)
    except websocket.WebSocketTimeoutException:
        return None, None  # part of a frame came: the rest is read at the next wake-up


def backoff_delay(attempt, base_s=0.5, cap_s=30.0, rnd=random.random):
    """Full jitter, as agent/connection/backoff.ts: uniform in [0, min(cap, base·2^attempt)], at least 50 ms."""
    ceiling = min(cap_s, base_s * 2 ** min(attempt, 30))
    return max(0.05, rnd() * ceiling)


class Link:
    """One per process; `start` spawns the thread, `close` ends it."""

    def __init__(self, agent, config, progress_every_s=0.05, catalogue_every_s=5.0, flush_every_s=0.1):
        self.agent = agent
        self.config = config
        self.state = IDLE
        scale = getattr(config, "time_scale", 1.0)
        self.progress_every_s = progress_every_s * scale
        self.catalogue_every_s = catalogue_every_s * scale
        self.flush_every_s = flush_every_s * scale
        self.fold_every_s = FOLD_EVERY_S * scale
        self.poll_s = POLL_S * scale
        self.idle_poll_s = IDLE_POLL_S * scale
        self.outbox = collections.deque()
        # (Sonde 0.2) Every `requests` batch until the operator acknowledges it (or, with an operator that
        # does not acknowledge, until it was sent), oldest first: (session, seq) -> text.
        self.unacked = collections.OrderedDict()
        self.acking = False
        self._retries = []
        self.dropped = 0
        self.remote = {}
        self.ended = collections.deque()
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._ws = None
        self._catalogue_sent = -1
        self._heartbeat_s = 30.0
        self.connects = 0
        self.last_close = None
        # What the last welcome said (Sonde 0.3 `processesPerPod`); until one, assume an operator that keeps many.
        self.processes_per_pod = None
        self._thread = threading.Thread(target=self._run, name="sonde-link", daemon=True)
        agent.on_session_end = self._on_session_end

    def start(self):
        self._thread.start()

    def close(self):
        self._closed.set()
        ws = self._ws
        if ws is not None:
            try:
                ws.close(timeout=1)
            except Exception:
                pass

    def forget(self):
        """After fork, in the child: drop the parent's socket without a close frame (the parent keeps it)."""
        ws = self._ws
        self._ws = None
        self._closed.set()
        if ws is not None and ws.sock is not None:
            try:
                ws.sock.close()
            except Exception:
                pass

    # ───────────── the thread ─────────────

    def _run(self):
        name_this_thread("sonde-link")
        attempt = 0
        while not self._closed.is_set():
            self.state = CONNECTING
            try:
                ws = self._connect()
            except Exception as exc:
                log.info("cannot reach the operator at %s: %s", self.config.url, exc)
                self.state = IDLE
                self._idle(backoff_delay(attempt))
                attempt += 1
                continue
            self._ws = ws
            self.connects += 1
            try:
                if self._serve(ws):
                    attempt = 0
            except Exception as exc:
                log.info("connection to the operator lost: %s", exc)
            finally:
                self.state = IDLE
                self._ws = None
                try:
                    ws.abort()
                    ws.sock and ws.sock.close()
                except Exception:
                    pass
            if not self._closed.is_set():
                if self.last_close == REPLACED and self.processes_per_pod == 1:
                    # An older operator keeps one connection per pod and another process of this pod (a
                    # pre-fork worker) holds it; taking it back at once would only make the two replace
                    # each other in a loop. A newer one keeps a connection per process: retry as usual.
                    error_once("replaced", "another process of this pod is connected to the operator; this one waits (the operator keeps one connection per pod)")
                    self._idle(REPLACED_PAUSE_S * (0.5 + random.random()))
                else:
                    self._idle(backoff_delay(attempt))
                attempt += 1
                self.last_close = None
        self.state = CLOSED

    def _idle(self, seconds):
        """Waits before a retry; sessions keep their deadlines meanwhile."""
        end = time.monotonic() + seconds
        while not self._closed.is_set() and time.monotonic() < end:
            # Deadlines are checked 4 times a second while sessions run; otherwise nothing wakes the thread.
            self._closed.wait(min(0.25 if self.agent.sessions else IDLE_POLL_S, max(0.0, end - time.monotonic())))
            self._guard(self.agent.check_deadlines)

    def _connect(self):
        headers = []
        token = self.config.token
        if self.config.token_file:
            with open(self.config.token_file, "r") as f:
                token = f.read().strip()
        if token:
            if len(token) > 16384 or any(c in token for c in "\r\n\0"):
                raise ValueError("the token is not a single line of at most 16 KiB")
            headers.append("Authorization: Bearer %s" % token)
        sslopt = {}
        if self.config.url.startswith("wss://"):
            ctx = ssl.create_default_context()
            if self.config.ca_cert:
                ctx.load_verify_locations(cadata=self.config.ca_cert)
            if self.config.ca_file:
                ctx.load_verify_locations(cafile=self.config.ca_file)
            sslopt = {"context": ctx}
        # websocket-client's own UTF-8 check walks each text frame byte by byte in Python; `_serve` decodes
        # every frame strictly instead (invalid UTF-8 raises there and ends the connection, as it did there).
        ws = websocket.WebSocket(sslopt=sslopt, enable_multithread=True, skip_utf8_validation=True)
        ws.connect(self.config.url, header=headers, timeout=10, suppress_origin=True)
        return ws

    def _serve(self, ws):
        """Speaks on one connection until it ends; True if the operator welcomed us."""
        timeout = self.poll_s
        ws.settimeout(timeout)
        self._send_hello(ws)
        self.state = HELLO_SENT
        welcomed = False
        last_heard = time.monotonic()
        next_progress = next_catalogue = next_flush = next_fold = 0.0
        while not self._closed.is_set():
            opcode, frame = next_frame(ws, timeout)
            now = time.monotonic()
            if opcode is not None:
                last_heard = now
                if opcode == websocket.ABNF.OPCODE_CLOSE:
                    code, reason = _close_reason(frame.data)
                    log.warning("operator closed the connection: %s %s", code, reason)
                    self.last_close = code
                    return welcomed
                if opcode in (websocket.ABNF.OPCODE_TEXT, websocket.ABNF.OPCODE_BINARY):
                    data = frame.data
                    text = data.decode("utf-8") if isinstance(data, (bytes, bytearray)) else data
                    if self._on_message(ws, text):
                        welcomed = True
                        self.state = WELCOMED
            elif now - last_heard > 3 * self._heartbeat_s:
                log.warning("no word from the operator for %.0f s: reconnecting", now - last_heard)
                return welcomed
            busy = self._busy()
            if busy:
                self._guard(self.agent.check_deadlines)
            want = self.poll_s if busy or not welcomed else max(self.poll_s, min(self.idle_poll_s, next_catalogue - now))
            if want != timeout:
                timeout = want
                ws.settimeout(timeout)
            if not welcomed:
                continue
            if now >= next_flush:
                next_flush = now + self.flush_every_s
                self._guard(lambda: self._flush(ws))
                self._guard(lambda: self._send_retries(ws))
            if now >= next_progress:
                next_progress = now + self.progress_every_s
                self._guard(lambda: self._send_progress(ws))
            if now >= next_fold:
                # Finished requests wait in the catalogue's deque until folded in. Kept for the 5 s between
                # catalogues, a busy worker held ~10,000 of them (over 1 MB of tuples and floats); folded
                # every time this thread wakes, at most 1 s apart, it holds a fifth of that. The fold's work
                # is the same either way (docs/BENCHMARKS.md, round 5).
                next_fold = now + self.fold_every_s
                self._guard(self.agent.catalogue.fold_now)
            if now >= next_catalogue:
                next_catalogue = now + self.catalogue_every_s
                self._guard(lambda: self._send_catalogue(ws))
        return welcomed

    def _busy(self):
        """Whether anything needs the short poll: a session, results or retries still to send."""
        return bool(self.agent.sessions or self.remote or self.ended or self._retries or self.outbox)

    def _guard(self, fn):
        try:
            fn()
        except (websocket.WebSocketException, OSError):
            raise
        except Exception as exc:
            error_once("link-" + getattr(fn, "__name__", "step"), "link step failed", exc)

    # ───────────── messages ─────────────

    def _send_hello(self, ws):
        with self._lock:
            sessions = [{"session": r.id, "requests": r.taken} for r in self.remote.values() if r.state == "running"]
            held = [r.id for r in self.remote.values() if r.state != "running"]
            running = {r.id for r in self.remote.values() if r.state == "running"}
            for session, _seq in self.unacked:
                if session not in running and session not in held:
                    held.append(session)
            ended = held[:256]
        hello = {
            "type": "hello",
            "protocol": PROTOCOL_VERSION,
            "pod": self.config.pod,
            "labels": self.config.labels,
            "agent": {"runtime": "python", "runtimeVersion": platform.python_version(), "agentVersion": AGENT_VERSION, "pid": os.getpid(), "instance": process_instance()},
            "catalogue": self.agent.catalogue.snapshot()[:MAX_CATALOGUE],
            "sessions": sessions,
            "acks": True,
            "limits": True,  # (Sonde 0.4) this agent honours `limit`
        }
        if getattr(self.config, "root", None):
            # (Sonde 0.4) Where the app lives, so the operator can show its paths relative to it.
            hello["agent"]["root"] = self.config.root
        if ended:
            # (Sonde 0.2) Sessions that ended here while their results and `ended` are still to be sent.
            hello["ended"] = ended
        version = self.agent.catalogue.version
        text = json.dumps(hello, separators=(",", ":"))
        if len(text.encode("utf-8")) > MAX_HELLO_BYTES:
            # The operator takes at most 64 KiB before welcome: a bigger catalogue follows as `catalogue`
            # once welcomed (left unsent, so the next catalogue tick sends it).
            hello["catalogue"] = []
            text = json.dumps(hello, separators=(",", ":"))
            version = -1
        self._catalogue_sent = version
        ws.send(text)

    def _on_message(self, ws, text):
        """Handles one operator message; True when it was the welcome."""
        try:
            m = parse_operator_message(text)
        except BadMessage as exc:
            log.warning("bad message from the operator: %s", exc)
            self._send(ws, {"type": "error", "code": "SONDE_BAD_MESSAGE", "message": str(exc)[:4096]})
            return False
        t = m["type"]
        if t == "welcome":
            self._heartbeat_s = max(0.1, m["heartbeatMs"] / 1000.0)
            self.acking = m["acks"]
            self.processes_per_pod = m["processesPerPod"]
            log.info("welcomed as %s (acks: %s)", m["agentId"], self.acking)
            # Held batches first, oldest first, then what the outbox holds (`ended` messages behind them).
            for key, text in list(self.unacked.items()):
                ws.send(text)
                if not self.acking:
                    self.unacked.pop(key, None)
            while self.outbox:
                ws.send(self.outbox[0])
                self.outbox.popleft()
            # Sessions that ended while we were away are reported by the next flush, after their requests.
            return True
        if t == "start":
            self._start(ws, m)
        elif t == "stop":
            self.agent.stop_session(m["session"], m["reason"])
        elif t == "limit":
            # (Sonde 0.4) A lower cap only; a session that already took that many ends as at its cap.
            s = self.remote.get(m["session"])
            if s is not None and m["maxRequests"] < s.limit:
                s.limit = m["maxRequests"]
                if s.taken >= s.limit:
                    self.agent.stop_session(s.id, "requests")
        elif t == "error":
            log.warning("operator reported an error: %s %s", m["code"], m["message"])
        elif t == "ack":
            key = (m["session"], m["seq"])
            if m["retryAfterMs"] is None:
                self.unacked.pop(key, None)
            else:
                log.warning("the operator could not store batch %s of %s; sending it again in %d ms", m["seq"], m["session"], m["retryAfterMs"])
                self._retries.append((time.monotonic() + min(m["retryAfterMs"], 600000) / 1000.0, key))
        return False

    def _send_retries(self, ws):
        now = time.monotonic()
        due = [r for r in self._retries if r[0] <= now]
        if not due:
            return
        self._retries = [r for r in self._retries if r[0] > now]
        for _, key in due:
            text = self.unacked.get(key)
            if text is not None:
                ws.send(text)

    def _start(self, ws, m):
        with self._lock:
            existing = self.remote.get(m["session"])
        if existing is not None and existing.state == "running":
            return  # a resume after a reconnect: it never stopped here
        limit = m["maxRequests"] - m["alreadyReported"]
        s = self.agent.start_session(m["session"], m["request"], max(1, limit), m["deadline"], m["sampleIntervalMs"])
        if s is None:
            return
        with self._lock:
            self.remote[s.id] = s
        if limit <= 0:
            self.agent.stop_session(s.id, "requests")

    def _on_session_end(self, s):
        """Called on whichever thread ended it; the link thread sends the rest and `ended`."""
        with self._lock:
            if s.id in self.remote:
                self.ended.append(s)

    def _flush(self, ws):
        with self._lock:
            sessions = list(self.remote.values())
        for s in sessions:
            self._flush_session(ws, s)
        while self.ended:
            s = self.ended.popleft()
            self._flush_session(ws, s)
            self._send_ended(ws, s)

    def _flush_session(self, ws, s):
        with self.agent.lock:
            taken, s.pending = s.pending, []
            # What the session had taken, every request of it now in this flush or an earlier one.
            covered = (s.taken, s.samples)
        if not taken:
            return
        from .tree import record_json
        table = self.agent.table
        pending = [record_json(req, type_, table) for req, type_ in taken]
        while pending:
            count = size = 0
            while count < len(pending) and count < MAX_REQUESTS_PER_MESSAGE:
                n = len(pending[count]) + 1
                if count > 0 and size + n > TARGET_MESSAGE_BYTES:
                    break
                size += n
                count += 1
            batch, pending = pending[:count], pending[count:]
            s.seq += 1
            text = '{"type":"requests","session":%s,"seq":%d,"requests":[%s]}' % (json.dumps(s.id), s.seq, ",".join(batch))
            self._send_batch(ws, (s.id, s.seq), text)
        # The operator counts a batch's records as it counts a progress message (its engine's `onRequests`
        # adds their requests and samples, and checks N, as `onProgress` does): a progress with the counts
        # this flush covers would say nothing new. Every other progress while busy was such a one.
        s._progress_sent = covered

    def _send_ended(self, ws, s):
        with self._lock:
            if self.remote.pop(s.id, None) is None:
                return
        log.debug("link thread: %.1f ms of CPU so far", time.thread_time() * 1000)
        m = {"type": "ended", "session": s.id, "reason": s.reason or "stopped", "requests": s.taken, "samples": s.samples}
        if s.error is not None:
            m["error"] = s.error
        self._send_kept(ws, json.dumps(m, separators=(",", ":")))

    def _send_progress(self, ws):
        with self._lock:
            sessions = [s for s in self.remote.values() if s.state == "running"]
        for s in sessions:
            key = (s.taken, s.samples)
            if getattr(s, "_progress_sent", None) == key:
                continue
            s._progress_sent = key
            in_flight = 0  # records are built as requests finish: none is ever on the way
            self._send(ws, {"type": "progress", "session": s.id, "requests": s.taken, "samples": s.samples, "inFlight": in_flight})

    def _send_catalogue(self, ws):
        c = self.agent.catalogue
        if c.version == self._catalogue_sent:
            return
        self._catalogue_sent = c.version
        self._send(ws, {"type": "catalogue", "entries": c.snapshot()[:MAX_CATALOGUE]})

    def _send(self, ws, message):
        ws.send(json.dumps(message, separators=(",", ":")))

    def _send_kept(self, ws, text):
        """Results must not be lost: sent now, or kept (bounded, oldest dropped) for after the reconnect."""
        if not self.outbox:
            try:
                ws.send(text)
                return
            except Exception:
                self._keep(text)
                raise
        self._keep(text)

    def _send_batch(self, ws, key, text):
        """A batch is held until acknowledged (bounded: the oldest go first), and sent now; if the send
        fails, the next welcome sends it with the others."""
        self.unacked[key] = text
        while len(self.unacked) > MAX_OUTBOX:
            self.unacked.popitem(last=False)
            self.dropped += 1
            error_once("unacked-full", "too many unacknowledged batches: oldest results dropped")
        ws.send(text)
        if not self.acking:
            self.unacked.pop(key, None)

    def _keep(self, text):
        self.outbox.append(text)
        while len(self.outbox) > MAX_OUTBOX:
            self.outbox.popleft()
            self.dropped += 1
            error_once("outbox-full", "outbox full: oldest results dropped")


def _close_reason(data):
    if not data or len(data) < 2:
        return None, ""
    code = int.from_bytes(data[:2], "big")
    return code, data[2:].decode("utf-8", "replace")
