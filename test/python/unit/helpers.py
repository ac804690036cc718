"""What both unit test files do the same way: spend CPU on the calling thread, and send one request
through a WSGI app as a server does. Imported from the test files' own directory (Python puts a script's
directory first on sys.path)."""

import time


def spin(ms):
    """Computes for `ms` of this thread's CPU time."""
    end = time.thread_time() + ms / 1000.0
    while time.thread_time() < end:
        pass


def call_wsgi(app, path, method="GET"):
    """One request through a WSGI app as a server makes it: the body read, then closed (the request ends
    there). Returns (statuses started, body)."""
    status = []
    body = app({"REQUEST_METHOD": method, "PATH_INFO": path}, lambda s, h, e=None: status.append(s))
    try:
        out = b"".join(body)
    finally:
        body.close()
    return status, out
