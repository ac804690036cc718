"""WSGI: a middleware that follows each request through the app, and ends it when the server closes the
response (after the body went out, or when the client went away)."""

from .agent import current_request
from .frames import register_boundary
from .log import error_once


class SondeWsgiMiddleware:
    """Wraps a WSGI app: `app = SondeWsgiMiddleware(app)`. Nested use (an explicit middleware inside an
    automatically patched framework) follows the request once."""

    def __init__(self, app, agent=None):
        self.app = app
        self._agent = agent

    def __call__(self, environ, start_response):
        agent = self._agent or _package.get_agent()
        if agent is None or current_request.get() is not None:
            return self.app(environ, start_response)
        req = agent.begin(environ.get("REQUEST_METHOD", "GET"), environ.get("PATH_INFO") or "/")
        if req is None:
            return self.app(environ, start_response)
        token = current_request.set(req)

        def start(status, headers, exc_info=None):
            try:
                req.status = int(status[:3])
            except Exception:
                pass
            return start_response(status, headers, exc_info) if exc_info is not None else start_response(status, headers)

        try:
            result = self.app(environ, start)
        except BaseException:
            req.outcome = "error"
            _reset(token)
            agent.finish(req)
            raise
        _reset(token)
        return ClosingIterable(result, req, agent)


import sonde_agent as _package  # noqa: E402  (the package is loaded by now: this module is part of it)


def _reset(token):
    try:
        current_request.reset(token)
    except Exception:
        current_request.set(None)


class ClosingIterable:
    """The app's response, passed through; `close` (which WSGI servers always call) ends the request. A
    client that went away mid-body shows as a GeneratorExit or a write error before the close: aborted."""

    __slots__ = ("_result", "_req", "_agent", "_done")

    def __init__(self, result, req, agent):
        self._result = result
        self._req = req
        self._agent = agent
        self._done = False

    def __iter__(self):
        try:
            for chunk in self._result:
                yield chunk
            self._done = True
        except GeneratorExit:
            self._req.outcome = "aborted"
            raise
        except BaseException:
            self._req.outcome = "error"
            raise

    def close(self):
        try:
            close = getattr(self._result, "close", None)
            if close is not None:
                close()
        finally:
            try:
                if not self._done and self._req.outcome == "ok":
                    self._req.outcome = "aborted"
                self._agent.finish(self._req)
            except Exception as exc:
                error_once("wsgi-close", "could not end a request", exc)


register_boundary(SondeWsgiMiddleware.__call__)
register_boundary(ClosingIterable.__iter__)
