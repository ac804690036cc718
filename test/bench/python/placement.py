"""Where a session puts CPU time that is spent in short bursts: the truth of a profile, not its cost.

A view alternates a CPU burst (`burst`, B ms of CPU) with a sleep (`nap`, B ms), three times; 8 threads
serve it through SondeWsgiMiddleware, all on one CPU (the highest this process may use), while a session samples every
10 ms. All the CPU is spent in `burst`; the share a profile shows there is how true it is. An in-process
sampler reads the threads' stacks only when it holds the GIL, so it sees a computing thread where it
gives the GIL up: at the sleep after its burst, unless the switch interval made it hand the GIL over
mid-burst. The agent shortens the switch interval to a quarter of the sampling interval while a session
runs (agent.py, `_shorten_switch_interval`); "app's interval" keeps the app's own (5 ms) to show what
that buys. Rounds interleave the two; the medians are printed.

Run: npm run bench:python:placement [-- rounds] (SONDE_BUNDLE for another build)."""

import os
import statistics
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
BUNDLE = os.environ.get("SONDE_BUNDLE") or os.path.join(HERE, "../../../dist/agent-bundle/python")
BURSTS_MS = (3, 8, 20)
POLICIES = ("agent", "app")
SECONDS = 4.0


def one_run(burst_ms, policy):
    """In this process: serve the view for SECONDS with a 10 ms session; prints the share under `burst`."""
    sys.path.insert(0, BUNDLE)
    from sonde_agent.agent import Agent
    from sonde_agent.wsgi import SondeWsgiMiddleware

    burst_s = burst_ms / 1000.0

    def burst():
        end = time.thread_time() + burst_s
        n = 0
        while time.thread_time() < end:
            for _ in range(200):  # mostly Python, not the clock's system call
                n += 1

    def nap():
        time.sleep(burst_s)

    def view(environ, start_response):
        for _ in range(3):
            burst()
            nap()
        start_response("200 OK", [])
        return [b"ok"]

    agent = Agent()
    agent._link_started = True  # no operator: the session is started here
    if policy == "app":
        agent._shorten_switch_interval = lambda interval_s: None
    app = SondeWsgiMiddleware(view, agent=agent)
    session = agent.start_session("s", "GET /v", 10 ** 9, time.time() * 1000 + 1e8, 10)
    stop = time.monotonic() + SECONDS

    def serve():
        while time.monotonic() < stop:
            body = app({"REQUEST_METHOD": "GET", "PATH_INFO": "/v"}, lambda *a: None)
            list(body)
            body.close()

    threads = [threading.Thread(target=serve) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    agent.close()
    under = {"burst": 0.0, "nap": 0.0, "elsewhere": 0.0}
    for req, _type in session.pending:
        for stack, e in req.stacks.items():
            # Qualified names: one_run.<locals>.burst
            names = {agent.table.frames[i][0].rsplit(".", 1)[-1] for i in stack}
            under["burst" if "burst" in names else "nap" if "nap" in names else "elsewhere"] += e[2]
    total = sum(under.values()) or 1.0
    print("%.4f %.4f %d" % (under["burst"] / total, under["nap"] / total, len(session.pending)))


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    if hasattr(os, "sched_setaffinity"):
        # One CPU, as a busy server's worker has: the runs inherit it.
        os.sched_setaffinity(0, {max(os.sched_getaffinity(0))})
    shares = {(b, p): [] for b in BURSTS_MS for p in POLICIES}
    for r in range(rounds):
        for b in BURSTS_MS:
            for p in (POLICIES if r % 2 == 0 else tuple(reversed(POLICIES))):
                out = subprocess.run([sys.executable, __file__, "--run", str(b), p], capture_output=True, text=True, check=True)
                shares[(b, p)].append(float(out.stdout.split()[0]))
        sys.stderr.write("round %d of %d\n" % (r + 1, rounds))
    print("CPU placed under the function that computes (the truth: 100%%), session at 10 ms, 8 threads, CPython %s, %d rounds:\n" % (sys.version.split()[0], rounds))
    print("| burst of CPU, then a sleep as long | switch interval 2.5 ms (the agent's) | 5 ms (the app's) |")
    print("| --- | --- | --- |")
    for b in BURSTS_MS:
        cells = []
        for p in POLICIES:
            xs = shares[(b, p)]
            cells.append("%.0f%% (%.0f–%.0f%%)" % (100 * statistics.median(xs), 100 * min(xs), 100 * max(xs)))
        print("| %d ms | %s | %s |" % (b, cells[0], cells[1]))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--run":
        one_run(int(sys.argv[2]), sys.argv[3])
    else:
        main()
