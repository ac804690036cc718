"""The floor under any Python sampler thread: `npm run bench:python:wake-floor [-- --rounds 5 --seconds 3]`.

A sampler written in Python must hold the GIL to run at all, so each of its wake-ups costs at least a
timed sleep, a GIL acquisition (which, in a process whose request threads compute, makes the thread
holding the GIL drop it) and a release. This measures that cost alone, in the benchmark's conditions: 8
threads serving the benchmark view's work in a loop (bench_app.py's orders, JSON out and back, a sort,
a 1 ms wait; without Django, so any CPython 3 runs it), pinned to one CPU as run.mjs pins the server,
and a thread that wakes every `--interval-ms` on the sampler's own sleep (a timed acquire of a held
lock) and does nothing else. Printed: that
thread's CPU per wake-up (time.thread_time), with and without the request threads, medians and spreads
of interleaved rounds. Multiplied by 100 wake-ups a second it is what 10 ms costs before the sampler
reads a single frame."""

import argparse
import json
import os
import random
import statistics
import sys
import threading
import time


def parse_args():
    p = argparse.ArgumentParser()
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--seconds", type=float, default=3.0)
    p.add_argument("--threads", type=int, default=8)
    p.add_argument("--orders", type=int, default=40)
    p.add_argument("--interval-ms", type=float, default=10.0)
    a = p.parse_args()
    if not (1 <= a.rounds <= 100 and 0.5 <= a.seconds <= 60 and 0 <= a.threads <= 64 and 1 <= a.orders <= 100000 and 1 <= a.interval_ms <= 1000):
        sys.exit("wake-floor: --rounds 1..100, --seconds 0.5..60, --threads 0..64, --orders 1..100000, --interval-ms 1..1000")
    return a


def view_work(seed, n):
    """bench_app.py's view without Django: the same orders, JSON round trip, sum, sort and 1 ms wait."""
    rnd = random.Random(seed)
    data = [{"id": i, "sku": "SKU-%05d" % rnd.randrange(100000), "qty": rnd.randrange(1, 9),
             "price": round(rnd.random() * 100, 2), "tags": ["a", "b", "c"][: rnd.randrange(4)]} for i in range(n)]
    back = json.loads(json.dumps({"orders": data}))
    total = sum(o["qty"] * o["price"] for o in back["orders"])
    top = sorted(back["orders"], key=lambda o: -o["price"])[:5]
    time.sleep(0.001)
    return json.dumps({"total": round(total, 2), "top": [o["sku"] for o in top]})


def one_round(threads, seconds, orders, interval_s):
    """(µs of CPU per wake-up of the waker, wake-ups, requests served) over `seconds`."""
    stop = threading.Event()
    served = [0] * threads

    def serve(k):
        i = 0
        while not stop.is_set():
            view_work(i, orders)
            i += 1
        served[k] = i

    workers = [threading.Thread(target=serve, args=(k,), daemon=True) for k in range(threads)]
    for w in workers:
        w.start()
    result = {}

    def waker():
        # The sampler's loop (sampler.py `_run`): a timed acquire of a lock held until the end, on one grid.
        running = threading.Lock()
        running.acquire()
        wakes = 0
        cpu0 = time.thread_time()
        origin = time.perf_counter()
        deadline = origin + seconds
        while time.perf_counter() < deadline:
            running.acquire(True, interval_s - (time.perf_counter() - origin) % interval_s)
            wakes += 1
        result["cpu_s"] = time.thread_time() - cpu0
        result["wakes"] = wakes

    time.sleep(0.3)  # the request threads get going first
    w = threading.Thread(target=waker, daemon=True)
    w.start()
    w.join()
    stop.set()
    for t in workers:
        t.join()
    return result["cpu_s"] * 1e6 / max(1, result["wakes"]), result["wakes"], sum(served)


def main():
    a = parse_args()
    pinned = hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1
    if pinned:
        os.sched_setaffinity(0, {1})  # as run.mjs pins the server
    loads = [0, a.threads] if a.threads else [0]
    per = {n: [] for n in loads}
    served = {n: [] for n in loads}
    for r in range(a.rounds):
        for n in random.sample(loads, len(loads)):
            us, wakes, reqs = one_round(n, a.seconds, a.orders, a.interval_ms / 1000.0)
            per[n].append(us)
            served[n].append(reqs / a.seconds)
            print("round %d: %d request threads: %.1f µs a wake-up (%d wake-ups, %.0f requests/s)" % (r + 1, n, us, wakes, reqs / a.seconds), file=sys.stderr)
    print("\nWake-up floor of a Python thread: %d rounds × %.1f s, a wake-up every %g ms, view of %d orders, CPython %s%s\n"
          % (a.rounds, a.seconds, a.interval_ms, a.orders, sys.version.split()[0], ", pinned to CPU 1" if pinned else ""))
    per_second = 1000.0 / a.interval_ms
    print("| request threads | µs of CPU a wake-up (median) | spread (min–max) | requests/s (median) | at %g wake-ups a second, µs a request |" % per_second)
    print("| --- | --- | --- | --- | --- |")
    for n in loads:
        med = statistics.median(per[n])
        rps = statistics.median(served[n])
        at100 = "%.2f" % (med * per_second / rps) if rps > 0 else "–"
        print("| %d | %.1f | %.1f–%.1f | %.0f | %s |" % (n, med, min(per[n]), max(per[n]), rps, at100))


if __name__ == "__main__":
    main()
