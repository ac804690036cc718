"""Request types: `METHOD route`, the route from the framework's template where there is one, else the
normalised path exactly as agent/requests/normalise-path.ts makes it."""

import re

MAX_REQUEST_LENGTH = 512
_NUMBER = re.compile(r"^\d+$")
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)
_LONG_HEX = re.compile(r"^[0-9a-f]{16,}$", re.I)
# Django `<int:pk>` / `<pk>`, Flask `<int:id>` / `<path:p>`, Starlette `{id}` / `{id:int}`.
_ANGLE = re.compile(r"<(?:[^<>:]+:)?([^<>:]+)>")
_BRACE = re.compile(r"\{([^{}:]+)(?::[^{}]*)?\}")


def normalise_path(url):
    """A URL path as a route: query and fragment dropped, id-like segments (numbers, UUIDs, long hex) as `:id`."""
    end = len(url)
    q = url.find("?")
    if q >= 0:
        end = q
    h = url.find("#")
    if 0 <= h < end:
        end = h
    path = url[:end]
    if not path.startswith("/"):
        scheme = path.find("://")
        slash = path.find("/", scheme + 3) if scheme >= 0 else -1
        path = path[slash:] if slash >= 0 else "/"
    segments = path.split("/")
    for i in range(1, len(segments)):
        s = segments[i]
        if s and (_NUMBER.match(s) or _UUID.match(s) or _LONG_HEX.match(s)):
            segments[i] = ":id"
    out = "/".join(segments)
    limit = MAX_REQUEST_LENGTH - 16
    return out[:limit]


def template_route(template):
    """A framework's route template in Sonde's form: a leading slash and `:name` parameters."""
    t = _BRACE.sub(lambda m: ":" + m.group(1), _ANGLE.sub(lambda m: ":" + m.group(1), template))
    if t.startswith("^"):
        t = t[1:]
    if t.endswith("$"):
        t = t[:-1]
    if not t.startswith("/"):
        t = "/" + t
    return t[:MAX_REQUEST_LENGTH - 16]


class PathCache:
    """Normalised paths remembered (bounded): the same few URLs come again and again."""

    def __init__(self, max_entries=5000):
        self._map = {}
        self._max = max_entries

    def get(self, path):
        v = self._map.get(path)
        if v is None:
            v = normalise_path(path)
            if len(self._map) >= self._max:
                self._map.clear()
            self._map[path] = v
        return v


class TypeFilter:
    """Decides at a request's start, before routing, whether a session's type could still be its type
    (method equal, path starting with the template's literal prefix), as agent/profiling/type-filter.ts."""

    def __init__(self, type_):
        self.type = type_
        self.method = None
        self.prefix = None
        space = type_.find(" ")
        route = type_[space + 1:] if space > 0 else ""
        if space > 0 and route.startswith("/"):
            self.method = type_[:space]
            cut = re.search(r"[:*(?\[{\\^$+|]", route)
            self.prefix = (route if cut is None else route[:cut.start()]).lower()

    def might_match(self, method, path):
        if self.method is None:
            return True
        if method != self.method:
            return False
        if not path.startswith("/"):
            return True
        low = path.lower()
        return low.startswith(self.prefix) or self.prefix.startswith(low + "/")
