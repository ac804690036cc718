"""The Python agent benchmark's Django app: one view doing realistic ORM-free work (build a few dozen
orders, JSON out and back, some arithmetic and sorting, a 1 ms wait as for a cache call). Served by
gunicorn gthread. `/bench/mark/zero` and `/bench/mark/dump` bracket instructions.mjs's callgrind window. BENCH_CPROFILE=1 wraps every request in cProfile (the anchor: a deterministic profiler)."""

import json
import os
import random
import time

import django
from django.conf import settings
from django.http import HttpResponse
from django.urls import path

settings.configure(DEBUG=False, SECRET_KEY="bench-only", ALLOWED_HOSTS=["*"], ROOT_URLCONF=__name__, MIDDLEWARE=[], INSTALLED_APPS=[], LOGGING_CONFIG=None)
django.setup()


def orders(seed, n=40):
    rnd = random.Random(seed)
    return [{"id": i, "sku": "SKU-%05d" % rnd.randrange(100000), "qty": rnd.randrange(1, 9),
             "price": round(rnd.random() * 100, 2), "tags": ["a", "b", "c"][: rnd.randrange(4)]} for i in range(n)]


def work(request, id):
    data = orders(id)
    text = json.dumps({"orders": data})
    back = json.loads(text)
    total = sum(o["qty"] * o["price"] for o in back["orders"])
    top = sorted(back["orders"], key=lambda o: -o["price"])[:5]
    time.sleep(0.001)
    return HttpResponse(json.dumps({"total": round(total, 2), "top": [o["sku"] for o in top]}), content_type="application/json")


def mark(request, what):
    # The instruction-count bench (instructions.mjs) runs the worker under callgrind with
    # --zero-before=getsid --dump-before=getpgid: these two calls bracket its measured window.
    (os.getsid if what == "zero" else os.getpgid)(0)
    return HttpResponse("ok")


urlpatterns = [path("work/<int:id>", work), path("bench/mark/<str:what>", mark)]

from django.core.wsgi import get_wsgi_application  # noqa: E402

application = get_wsgi_application()

if os.environ.get("BENCH_CPROFILE") == "1":
    import cProfile

    _inner = application

    def application(environ, start_response):  # noqa: F811
        prof = cProfile.Profile()
        prof.enable()
        try:
            return list(_inner(environ, start_response))
        finally:
            prof.disable()
