"""Sonde's Python agent: follows WSGI/ASGI requests, and while a ProfilingSession runs, samples the threads
serving the chosen request type and streams their call trees to the operator. Standard library only.

Injected, `sitecustomize` calls `start()`; by hand, use `start()` and one of `SondeWsgiMiddleware`,
`SondeAsgiMiddleware`, `sonde_agent.django.SondeMiddleware` or `sonde_agent.flask.Sonde`."""

import os
import threading

__all__ = ["start", "get_agent", "SondeWsgiMiddleware", "SondeAsgiMiddleware"]
__version__ = "0.1.0"

_agent = None
_lock = threading.Lock()


def __getattr__(name):
    # Lazily, so that a process that never serves HTTP does not import asyncio because of us.
    if name == "SondeWsgiMiddleware":
        from .wsgi import SondeWsgiMiddleware
        return SondeWsgiMiddleware
    if name == "SondeAsgiMiddleware":
        from .asgi import SondeAsgiMiddleware
        return SondeAsgiMiddleware
    raise AttributeError(name)


def get_agent():
    """The process's agent, or None before `start` (or when it could not start)."""
    return _agent


def start(env=None, patch=True):
    """Starts the agent once per process from the environment (SONDE_URL, …); never raises. With `patch`,
    Django, Flask and Starlette/FastAPI are followed without code change."""
    global _agent
    with _lock:
        if _agent is not None:
            return _agent
        try:
            from .agent import Agent
            from .config import read_config
            from .log import configure, log
            config = read_config(env)
            configure(config.log_level)
            _agent = Agent(config, link_factory=_make_link)
            if hasattr(os, "register_at_fork"):
                os.register_at_fork(after_in_child=_after_fork)
            if patch:
                from .autopatch import install
                install()
            log.info("agent started (pid %d, operator %s)", os.getpid(), config.url or "none")
        except Exception as exc:
            try:
                import sys
                sys.stderr.write("sonde: the agent did not start: %s\n" % (exc,))
            except Exception:
                pass
            _agent = None
        return _agent


def _make_link(agent):
    # Imported on the first request, not at start-up: ssl and the WebSocket client cost every Python process
    # of an injected container tens of milliseconds, and most of them (shells, CLIs, a pre-fork master)
    # never serve a request.
    from .link import Link
    return Link(agent, agent.config)


def _after_fork():
    """Each pre-fork worker is its own agent: it dials the operator with its own pid on its first request."""
    agent = _agent
    if agent is not None:
        try:
            agent.after_fork()
        except Exception:
            pass
