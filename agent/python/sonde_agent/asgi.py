"""ASGI: a middleware that follows each HTTP request on the event loop. Many requests share the loop's
thread, so each is known by its task (and the tasks it creates, through a task factory that inherits the
request from the creating context); the sampler charges the loop's stack to the request whose task is
running, and a request's other time to waiting (its task awaits a future) or held up (ready, not running)."""

import asyncio
import weakref

from .agent import current_request
from .frames import register_boundary
from .log import error_once

_factory_loops = weakref.WeakSet()


class SondeAsgiMiddleware:
    """Wraps an ASGI app: `app = SondeAsgiMiddleware(app)`. Only `http` scopes are followed."""

    def __init__(self, app, agent=None):
        self.app = app
        self._agent = agent

    async def __call__(self, scope, receive, send):
        from . import get_agent
        agent = self._agent or get_agent()
        if agent is None or scope.get("type") != "http" or current_request.get() is not None:
            return await self.app(scope, receive, send)
        req = None
        try:
            loop = asyncio.get_running_loop()
            _install_task_factory(loop, agent)
            req = agent.begin(scope.get("method", "GET"), scope.get("path") or "/", loop=loop, task=asyncio.current_task())
        except Exception as exc:
            error_once("asgi-begin", "could not follow a request", exc)
        if req is None:
            return await self.app(scope, receive, send)
        token = current_request.set(req)

        async def send_status(message):
            if message.get("type") == "http.response.start":
                try:
                    req.status = int(message.get("status"))
                except Exception:
                    pass
            return await send(message)

        try:
            await self.app(scope, receive, send_status)
        except asyncio.CancelledError:
            req.outcome = "aborted"
            raise
        except BaseException:
            req.outcome = "error"
            raise
        finally:
            try:
                current_request.reset(token)
            except Exception:
                pass
            agent.finish(req)


def _install_task_factory(loop, agent):
    """Tasks a request creates (gather, create_task) count as the request's: the new task's context is a
    copy of its creator's, so the creator's request is known when the factory runs."""
    if loop in _factory_loops:
        return
    _factory_loops.add(loop)
    previous = loop.get_task_factory()

    def factory(loop, coro, **kwargs):
        task = previous(loop, coro, **kwargs) if previous is not None else asyncio.Task(coro, loop=loop, **kwargs)
        try:
            req = current_request.get()
            if req is not None and req.sampled and not req.finished:
                agent.tasks[task] = req
        except Exception:
            pass
        return task

    loop.set_task_factory(factory)


register_boundary(SondeAsgiMiddleware.__call__)
