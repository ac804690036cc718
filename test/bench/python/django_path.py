"""The agent's own path through Django, without HTTP or threads: Django's WSGI handler (patched as when
injected) called in a loop on a trivial view, with no agent, the agent idle, or a session following every
request (interval 1 s: the request's own record, not ticks; its JSON, made by the link thread, counted
in the window too). For instruction counts, the loop is
bracketed as in bench_app.py (getsid/getpgid):

  valgrind --tool=callgrind --callgrind-out-file=/tmp/dp.%p --dump-instr=no --zero-before=getsid \\
    --dump-before=getpgid /usr/bin/python3 test/bench/python/django_path.py MODE 2000
  grep totals: /tmp/dp.*.1     # ÷ 2000 = instructions per request; MODE = none, idle or sampled

Without valgrind it prints µs per request (noisy on a shared machine). The agent comes from
SONDE_BUNDLE, else dist/agent-bundle/python."""

import io
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
mode = sys.argv[1] if len(sys.argv) > 1 else "idle"
N = int(sys.argv[2]) if len(sys.argv) > 2 else 20000
if mode not in ("none", "idle", "sampled"):
    sys.exit("mode: none, idle or sampled")
if mode != "none":
    sys.path.insert(0, os.environ.get("SONDE_BUNDLE") or os.path.join(HERE, "../../../dist/agent-bundle/python"))
    import sonde_agent
    agent = sonde_agent.start(env={"SONDE_LOG_LEVEL": "warn"})
    agent._link_started = True  # no operator: the request path only
    if mode == "sampled":
        agent.start_session("s", "GET /work/:id", 10 ** 9, time.time() * 1000 + 1e8, 1000)
sys.path.insert(0, HERE)
import bench_app  # noqa: E402
from django.http import HttpResponse  # noqa: E402
from django.urls import clear_url_caches, path  # noqa: E402

# A trivial view, so the agent's share shows.
bench_app.urlpatterns[:] = [path("work/<int:id>", lambda request, id: HttpResponse("ok"))]
clear_url_caches()
app = bench_app.application


def call(i):
    env = {"REQUEST_METHOD": "GET", "PATH_INFO": "/work/%d" % i, "SERVER_NAME": "x", "SERVER_PORT": "80",
           "wsgi.input": io.BytesIO(b""), "wsgi.url_scheme": "http", "HTTP_HOST": "x"}
    r = app(env, lambda s, h, e=None: None)
    list(r)
    r.close()




def flush():
    """What the link thread does every 100 ms: takes the session's finished requests and makes each one's
    JSON (older agents made it on the request's thread: theirs are strings already)."""
    s = agent.session("s")
    taken, s.pending = s.pending, []
    if taken and isinstance(taken[0], tuple):
        from sonde_agent.tree import record_json
        return [record_json(req, type_, agent.table) for req, type_ in taken]
    return taken


for i in range(2000):
    call(i % 1000)
    if mode == "sampled" and i % 100 == 99:
        flush()
os.getsid(0)
t = time.process_time()
for i in range(N):
    call(i % 1000)
    if mode == "sampled" and i % 100 == 99:
        flush()
d = (time.process_time() - t) / N * 1e6
os.getpgid(0)
print("%s: %.2f µs per request" % (mode, d))
