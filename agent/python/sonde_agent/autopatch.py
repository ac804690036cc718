"""No code change: when the agent is injected (sitecustomize), the frameworks are patched as they are
imported, so every request is followed and named by its route. A post-import hook on `sys.meta_path`
runs our patch right after the framework's module has run; a module already imported is patched at
once. Each patch is idempotent and guarded: a framework version we do not know is left alone."""

import functools
import sys
import threading
import time

from .frames import register_boundary
from .log import error_once, log

_PATCHED = "__sonde_patched__"
# Where Django's resolve_request leaves the route of a request no session follows (a WSGI extension key:
# the environ is Django's request.META, so this costs a dict store, where a context variable cost more).
ROUTE_KEY = "sonde.route"
# Frameworks whose requests the patches follow: an explicit middleware of the same framework stands aside.
FOLLOWED = set()


def _patch_django_wsgi(module):
    import sonde_agent as package

    from .agent import current_request
    from .catalogue import FOLD_AT
    from .request_state import RequestState
    from .wsgi import _plain as _plain_bodies
    from .wsgi import ClosingIterable, SondeWsgiMiddleware, is_plain_body, register_plain_body
    cls = module.WSGIHandler
    original = cls.__call__
    if getattr(original, _PATCHED, False):
        return
    from django.http.response import HttpResponse
    register_plain_body(HttpResponse)

    @functools.wraps(original)
    def __call__(self, environ, start_response):
        agent = package._agent
        if agent is None or not agent._link_started or current_request.get() is not None:
            mw = self.__dict__.get("_sonde_mw")
            if mw is None:
                mw = self.__dict__["_sonde_mw"] = SondeWsgiMiddleware(functools.partial(original, self))
            return mw(environ, start_response)
        # The path of every request, written out flat: each Python call, object and context variable on
        # it cost a request 1,000-3,000 instructions (callgrind). Django names the request (resolve_request
        # below leaves its route in the environ) and answers its status. A plain HttpResponse (its body
        # already in memory) goes to the server as it is, and the request ends now: its time ends when
        # Django has answered, not when the server has written the body. A request a running session may
        # take (its method and path prefix) is followed from here, on the same flat path.
        req = agent.begin_followed(environ.get("REQUEST_METHOD", "GET"), environ.get("PATH_INFO") or "/") if agent.sessions else None
        start = time.perf_counter() if req is None else req.start_perf
        try:
            response = original(self, environ, start_response)
        except BaseException:
            if req is None:
                agent.catalogue.record_end(environ.get("REQUEST_METHOD", "GET"), environ.get(ROUTE_KEY), environ.get("PATH_INFO") or "/", start, True)
            else:
                req.outcome = "error"
                req.route = environ.get(ROUTE_KEY)
                agent.finish(req)
            raise
        try:
            plain = _plain_bodies.get(type(response))
            if plain is None:
                plain = is_plain_body(type(response))
            if req is not None:
                req.route = environ.get(ROUTE_KEY)
                req.status = getattr(response, "status_code", None)
                if plain:
                    agent.finish(req)
                    return response
                return ClosingIterable(response, req, agent)
            if plain:
                status = getattr(response, "status_code", None)
                pending = agent.catalogue._pending
                route = environ.get(ROUTE_KEY)
                # Catalogue.record_request, inlined: the path is kept only when there is no route.
                pending.append((environ.get("REQUEST_METHOD", "GET"), route, environ.get("PATH_INFO") or "/" if route is None else None,
                                (time.perf_counter() - start) * 1000.0, type(status) is int and status >= 500))
                if len(pending) >= FOLD_AT:
                    agent.catalogue.fold_now()
                return response
            # A streaming body: followed to its end by the middleware's iterable.
            req = RequestState(environ.get("REQUEST_METHOD", "GET"), environ.get("PATH_INFO") or "/")
            req.start_perf = start
            req.route = environ.get(ROUTE_KEY)
            req.status = getattr(response, "status_code", None)
            return ClosingIterable(response, req, agent)
        except Exception as exc:
            error_once("django-end", "could not follow a response", exc)
            return response

    setattr(__call__, _PATCHED, True)
    register_boundary(__call__)
    cls.__call__ = __call__
    FOLLOWED.add("django")


def _wrap_asgi_call(cls):
    """Puts the ASGI middleware around an ASGI application class's `__call__`, once per instance."""
    from .asgi import SondeAsgiMiddleware
    original = cls.__call__
    if getattr(original, _PATCHED, False):
        return

    async def __call__(self, scope, receive, send):
        mw = self.__dict__.get("_sonde_mw")
        if mw is None:
            mw = self.__dict__["_sonde_mw"] = SondeAsgiMiddleware(functools.partial(original, self))
        return await mw(scope, receive, send)

    setattr(__call__, _PATCHED, True)
    cls.__call__ = __call__


def _patch_django_asgi(module):
    _wrap_asgi_call(module.ASGIHandler)
    FOLLOWED.add("django")


def _patch_django_base(module):
    from .agent import current_request
    cls = module.BaseHandler
    original = getattr(cls, "resolve_request", None)  # Django 3.1+
    if original is None or getattr(original, _PATCHED, False):
        return

    @functools.wraps(original)
    def resolve_request(self, request):
        match = original(self, request)
        # Every request passes here: the template is only stored (the agent names it when needed).
        try:
            rm = getattr(request, "resolver_match", None) or match
            route = getattr(rm, "route", None)
            if route:
                req = current_request.get()
                if req is None:
                    request.META[ROUTE_KEY] = route
                elif req.route is None:
                    req.route = route
        except Exception as exc:
            error_once("django-route", "could not read a Django route", exc)
        return match

    setattr(resolve_request, _PATCHED, True)
    cls.resolve_request = resolve_request


def _patch_flask(module):
    from .wsgi import SondeWsgiMiddleware
    cls = module.Flask
    original_call = cls.__call__
    if getattr(original_call, _PATCHED, False):
        return

    @functools.wraps(original_call)
    def __call__(self, environ, start_response):
        mw = self.__dict__.get("_sonde_mw")
        if mw is None:
            mw = self.__dict__["_sonde_mw"] = SondeWsgiMiddleware(functools.partial(original_call, self))
        return mw(environ, start_response)

    original_dispatch = cls.dispatch_request

    @functools.wraps(original_dispatch)
    def dispatch_request(self, *args, **kwargs):
        try:
            from flask import request
            from . import get_agent
            agent = get_agent()
            rule = getattr(request, "url_rule", None)
            if agent is not None and rule is not None:
                agent.set_route(rule.rule)
        except Exception as exc:
            error_once("flask-route", "could not read a Flask route", exc)
        return original_dispatch(self, *args, **kwargs)

    setattr(__call__, _PATCHED, True)
    cls.__call__ = __call__
    cls.dispatch_request = dispatch_request


def _patch_starlette_app(module):
    _wrap_asgi_call(module.Starlette)


def _patch_starlette_routing(module):
    cls = module.Route
    original = cls.handle
    if getattr(original, _PATCHED, False):
        return

    async def handle(self, scope, receive, send):
        try:
            from . import get_agent
            agent = get_agent()
            if agent is not None:
                agent.set_route((scope.get("root_path") or "") + self.path)
        except Exception as exc:
            error_once("starlette-route", "could not read a Starlette route", exc)
        return await original(self, scope, receive, send)

    setattr(handle, _PATCHED, True)
    cls.handle = handle


def _patch_anyio_to_thread(module):
    """Sync endpoints under Starlette/FastAPI run in anyio's worker threads (`run_in_threadpool`): the
    request is followed onto that thread while it runs there."""
    from .agent import current_request
    original = module.run_sync
    if getattr(original, _PATCHED, False):
        return

    @functools.wraps(original)
    async def run_sync(func, *args, **kwargs):
        req = current_request.get()
        if req is not None and req.sampled and not req.finished:
            func = _lent(func, req)
        return await original(func, *args, **kwargs)

    setattr(run_sync, _PATCHED, True)
    module.run_sync = run_sync


def _lent(func, req):
    from . import get_agent

    def in_worker_thread(*args):
        agent = get_agent()
        token = agent.lend_thread(req) if agent is not None else None
        try:
            return func(*args)
        finally:
            if token is not None:
                agent.return_thread(req, token)

    register_boundary(in_worker_thread)
    return in_worker_thread


def _patch_asgiref(module):
    """Django's sync views under ASGI run through asgiref's SyncToAsync in an executor thread; the request
    is found in the context asgiref copied for the call (`func` is that context's `run`) and followed onto
    the thread while the call runs there."""
    import contextvars

    from .agent import current_request
    cls = module.SyncToAsync
    original = cls.thread_handler
    if getattr(original, _PATCHED, False):
        return

    @functools.wraps(original)
    def thread_handler(self, loop, source_task, exc_info, func, *args, **kwargs):
        req = token = agent = None
        try:
            ctx = getattr(func, "__self__", None)
            if isinstance(ctx, contextvars.Context):
                req = ctx.get(current_request)
            if req is not None and req.sampled and not req.finished:
                from . import get_agent
                agent = get_agent()
                token = agent.lend_thread(req) if agent is not None else None
        except Exception as exc:
            error_once("asgiref-lend", "could not follow a sync view's thread", exc)
        try:
            return original(self, loop, source_task, exc_info, func, *args, **kwargs)
        finally:
            if token is not None:
                agent.return_thread(req, token)

    setattr(thread_handler, _PATCHED, True)
    register_boundary(thread_handler)
    cls.thread_handler = thread_handler


PATCHES = {
    "asgiref.sync": _patch_asgiref,
    "anyio.to_thread": _patch_anyio_to_thread,
    "django.core.handlers.wsgi": _patch_django_wsgi,
    "django.core.handlers.asgi": _patch_django_asgi,
    "django.core.handlers.base": _patch_django_base,
    "flask.app": _patch_flask,
    "starlette.applications": _patch_starlette_app,
    "starlette.routing": _patch_starlette_routing,
}


def _apply(name, module):
    try:
        PATCHES[name](module)
        log.debug("patched %s", name)
    except Exception as exc:
        error_once("patch-" + name, "could not patch %s" % name, exc)


class _PostImportFinder:
    """Finds nothing itself: it asks the other finders, then wraps the loader so the patch runs after the
    module's own code. (No importlib.abc/util: importing them costs every process several milliseconds.)"""

    def __init__(self):
        self._busy = threading.local()

    def find_spec(self, fullname, path=None, target=None):
        if fullname not in PATCHES or getattr(self._busy, "name", None) == fullname:
            return None
        self._busy.name = fullname
        try:
            spec = None
            for finder in sys.meta_path:
                if finder is self or not hasattr(finder, "find_spec"):
                    continue
                spec = finder.find_spec(fullname, path, target)
                if spec is not None:
                    break
        except Exception:
            return None
        finally:
            self._busy.name = None
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        spec.loader = _PatchingLoader(spec.loader, fullname)
        return spec


class _PatchingLoader:
    """The framework's own loader, then our patch."""

    def __init__(self, loader, name):
        self._loader = loader
        self._name = name

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        self._loader.exec_module(module)
        _apply(self._name, module)

    def __getattr__(self, attr):
        # get_resource_reader, get_source, is_package, …: whatever the real loader offers.
        return getattr(self._loader, attr)


def install():
    """Installs the hook (once) and patches what is already imported."""
    if any(isinstance(f, _PostImportFinder) for f in sys.meta_path):
        return
    sys.meta_path.insert(0, _PostImportFinder())
    for name in PATCHES:
        module = sys.modules.get(name)
        if module is not None:
            _apply(name, module)
