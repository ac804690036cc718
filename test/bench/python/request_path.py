"""What the agent costs one request, without HTTP or threads: SondeWsgiMiddleware around a trivial WSGI
app, idle and with a 10 ms session taking every request; and one sampler tick over 100 idle and 8 busy
threads 31 frames deep (each walk stops where the thread's previous one joins). Run: /usr/bin/python3 test/bench/python/request_path.py (after npm run build)."""

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
