"""Django: `MIDDLEWARE = ["sonde_agent.django.SondeMiddleware", ...]` when the agent is not injected. It
names each request by its resolver route (`GET /orders/:id` for `orders/<int:id>`). Injected agents patch
Django's handlers instead (autopatch.py) and need no entry."""

from .agent import current_request
from .autopatch import FOLLOWED


def route_of(request):
    """The resolver route of a routed Django request, or None."""
    match = getattr(request, "resolver_match", None)
    return getattr(match, "route", None) if match is not None else None


class SondeMiddleware:
    """A Django middleware (sync and async capable) that follows the request and sets its route."""

    sync_capable = True
    async_capable = False

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        from . import get_agent
        agent = get_agent()
        if agent is None or current_request.get() is not None or "django" in FOLLOWED:
            # Injected: Django's handlers are patched (autopatch.py), and they follow the request.
            return self.get_response(request)
        req = agent.begin(request.method or "GET", request.path_info or "/")
        if req is None:
            return self.get_response(request)
        token = current_request.set(req)
        try:
            response = self.get_response(request)
            req.status = getattr(response, "status_code", None)
            return response
        except BaseException:
            req.outcome = "error"
            raise
        finally:
            try:
                current_request.reset(token)
            except Exception:
                pass
            agent.finish(req)

    def process_view(self, request, view_func, view_args, view_kwargs):
        from . import get_agent
        agent = get_agent()
        if agent is not None:
            agent.set_route(route_of(request))
        return None


from .frames import register_boundary  # noqa: E402

register_boundary(SondeMiddleware.__call__)
