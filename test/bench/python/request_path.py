"""What the agent costs one request, without HTTP or threads: SondeWsgiMiddleware around a trivial WSGI
app, idle and with a 10 ms session taking every request; one sampler tick over 100 idle and 8 busy
threads 31 frames deep (each walk stops where the thread's previous one joins); and the JSON of a
finished request's record (made on the link thread) holding 1, 3 or 8 stacks 31 frames deep, each with
CPU, waiting and held-up time (the stacks of a kind of request repeat, as a real app's do). SONDE_BUNDLE
points it at another build of the agent (e.g. an older revision's agent/python) to compare. Run: /usr/bin/python3 test/bench/python/request_path.py (after npm run build)."""

import os
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.environ.get("SONDE_BUNDLE") or os.path.join(HERE, "../../../dist/agent-bundle/python"))

from sonde_agent import cpu  # noqa: E402
from sonde_agent.agent import Agent  # noqa: E402
from sonde_agent.frames import register_boundary  # noqa: E402
from sonde_agent.request_state import RequestState  # noqa: E402
from sonde_agent.sampler import Sampler  # noqa: E402
from sonde_agent.tree import record_json  # noqa: E402
from sonde_agent.wsgi import SondeWsgiMiddleware  # noqa: E402

N = 50000


def app(environ, start_response):
    start_response("200 OK", [])
    return [b"ok"]


def call(a, env):
    r = a(env, lambda *x: None)
    for _ in r:
        pass
    if hasattr(r, "close"):
        r.close()


def per_call(a, env):
    t = time.process_time()
    for _ in range(N):
        call(a, env)
    return (time.process_time() - t) / N * 1e6


agent = Agent()
agent._link_started = True
env = {"REQUEST_METHOD": "GET", "PATH_INFO": "/work/12"}
mw = SondeWsgiMiddleware(app, agent=agent)
bare = per_call(app, env)
print("request path, idle:      %.2f µs (the bare app: %.2f µs)" % (per_call(mw, env) - bare, bare))
s = agent.start_session("s", "GET /work/:id", 10 ** 9, time.time() * 1000 + 1e7, 10)
print("request path, profiled:  %.2f µs (its record is made later, on the link thread)" % (per_call(mw, env) - bare))
agent.close()

stop = threading.Event()


def deep(n):
    if n == 0:
        while not stop.is_set():
            sum(range(100))
    else:
        deep(n - 1)


# The busy threads' stacks start at Thread.run as a request's start at the agent's middleware.
register_boundary(threading.Thread.run)
idle = [threading.Thread(target=stop.wait) for _ in range(100)]
busy = [threading.Thread(target=deep, args=(30,)) for _ in range(8)]
for t in idle + busy:
    t.start()
time.sleep(0.1)
agent = Agent()
for t in busy:
    r = RequestState("GET", "/x")
    r.follow()
    r.ident = t.ident
    r.cpu = cpu.reader_for(t.native_id)
    r.last_cpu = r.cpu.read_ns()
    agent.threads[t.ident] = r
sampler = Sampler(agent, 0.01)
t0 = time.thread_time()
for _ in range(2000):
    sampler.tick()
print("sampler tick, 8 of 108 threads walked: %.1f µs" % ((time.thread_time() - t0) / 2000 * 1e6))
t0 = time.thread_time()
for _ in range(2000):
    sys._current_frames()
print("sys._current_frames(), 108 threads:    %.1f µs" % ((time.thread_time() - t0) / 2000 * 1e6))
stop.set()


def records_of(table, n_stacks, count, rnd):
    codes = [compile("pass", "/usr/lib/python3/dist-packages/django/core/handlers/h%d.py" % i, "exec") for i in range(40)]
    base = tuple(table._line_id(codes[i], 10 + i) for i in range(30))
    leaves = [base + (table._line_id(codes[30 + k % 10], 1 + k),) for k in range(24)]
    out = []
    for _ in range(count):
        r = RequestState("GET", "/x")
        r.follow()
        r.end_perf = r.start_perf + 0.004
        for stack in rnd.sample(leaves, n_stacks):
            r.add(stack, 10000.0, rnd.uniform(1000, 8000), rnd.uniform(0, 500))
        out.append(r)
    return out


import random  # noqa: E402

rnd = random.Random(1)
table = Agent().table
for n_stacks in (1, 3, 8):
    reqs = records_of(table, n_stacks, 4000, rnd)
    t0 = time.thread_time()
    for r in reqs:
        record_json(r, "GET /x", table)
    print("record JSON, %d stack%s of 31 frames: %.1f µs" % (n_stacks, "" if n_stacks == 1 else "s", (time.thread_time() - t0) / len(reqs) * 1e6))
