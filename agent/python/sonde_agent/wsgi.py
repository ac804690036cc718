"""WSGI: a middleware that follows each request through the app, and ends it when the server closes the
response (after the body went out, or when the client went away).

This is the path every request of a WSGI app takes, profiled or not, so its idle half is written out
flat: each Python call on it costs a request about 1,000 instructions, and the agent's whole idle cost
was counted at 35,000 instructions a request (callgrind, `npm run bench:python:instructions`) when it
went through a dozen small functions."""


from .agent import current_request
from .frames import register_boundary
from .log import error_once
from .request_state import RequestState


class SondeWsgiMiddleware:
    """Wraps a WSGI app: `app = SondeWsgiMiddleware(app)`. Nested use (an explicit middleware inside an
    automatically patched framework) follows the request once."""

    def __init__(self, app, agent=None):
        self.app = app
        self._agent = agent

    def __call__(self, environ, start_response):
        agent = self._agent or _package._agent
        if agent is None or current_request.get() is not None:
            return self.app(environ, start_response)
        try:
            # Agent.begin, inlined.
            if not agent._link_started:
                agent._start_link()
            req = RequestState(environ.get("REQUEST_METHOD", "GET"), environ.get("PATH_INFO") or "/")
            if agent.sessions:
                agent.consider(req)
        except Exception as exc:
            error_once("begin", "could not follow a request", exc)
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
        try:
            current_request.reset(token)
        except Exception:
            current_request.set(None)
        if not req.sampled and is_plain_body(type(result)):
            return PlainClosing(result, req, agent)
        return ClosingIterable(result, req, agent)


import sonde_agent as _package  # noqa: E402  (the package is loaded by now: this module is part of it)

# Response bodies whose iteration cannot raise: a request no session follows that returns one is ended
# by `close` alone, without a generator between the server and the body (a client that goes away
# mid-body is then not told apart: the catalogue counts raises and 5xx as errors, not that). The Django
# patch adds Django's HttpResponse, whose body is a list of bytes (not StreamingHttpResponse).
PLAIN_BASES = [list, tuple]
_plain = {}


def register_plain_body(cls):
    """Marks `cls` and its subclasses as bodies whose iteration cannot raise."""
    PLAIN_BASES.append(cls)
    _plain.clear()


def is_plain_body(cls):
    """Whether a response of this class can be iterated without the agent watching."""
    plain = _plain.get(cls)
    if plain is None:
        if len(_plain) >= 1000:
            _plain.clear()
        plain = _plain[cls] = any(issubclass(cls, b) for b in PLAIN_BASES)
    return plain


def _reset(token):
    try:
        current_request.reset(token)
    except Exception:
        current_request.set(None)


class PlainClosing:
    """The response of a request no session follows, when its body is plain: iterated as it is, and
    `close` (which WSGI servers always call) ends the request: counted in the catalogue."""

    __slots__ = ("_result", "_req", "_agent")

    def __init__(self, result, req, agent):
        self._result = result
        self._req = req
        self._agent = agent

    def __iter__(self):
        return iter(self._result)

    def close(self):
        try:
            close = getattr(self._result, "close", None)
            if close is not None:
                close()
        finally:
            try:
                if not self._req.finished:
                    self._agent.count_idle(self._req)
            except Exception as exc:
                error_once("wsgi-close", "could not end a request", exc)


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
