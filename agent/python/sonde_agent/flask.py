"""Flask: `Sonde(app)` (or `Sonde().init_app(app)`) when the agent is not injected. It follows each request
(a WSGI middleware around `app.wsgi_app`) and names it by its URL rule (`GET /orders/:id`)."""

from .wsgi import SondeWsgiMiddleware


class Sonde:
    """A Flask extension."""

    def __init__(self, app=None):
        if app is not None:
            self.init_app(app)

    def init_app(self, app):
        if not isinstance(app.wsgi_app, SondeWsgiMiddleware):
            app.wsgi_app = SondeWsgiMiddleware(app.wsgi_app)
        app.before_request(_set_route)


def _set_route():
    from flask import request
    from . import get_agent
    agent = get_agent()
    rule = getattr(request, "url_rule", None)
    if agent is not None and rule is not None:
        agent.set_route(rule.rule)
