"""Stacks as the sampler records them: a tuple of small ints, one per (code object, line), interned once.
Walking a frame costs a dict lookup per level; names and files are read from a code object only the first
time it is seen ("cache per code object")."""

import threading

from .stack_trie import StackTrie

MAX_DEPTH = 128
MAX_FRAMES = 200_000
# Frame kinds as src/model/frame.ts numbers them (FRAME_KINDS).
KIND_CODE = 0
KIND_SYNTHETIC = 5

WAITING = "(waiting: I/O and timers)"
OTHER_WORK = "(blocked by other work on the thread)"
TRUNCATED = "(truncated)"
# co_flags of generators and coroutines (CO_GENERATOR | CO_COROUTINE | CO_ITERABLE_COROUTINE | CO_ASYNC_GENERATOR).
_SUSPENDABLE = 0x20 | 0x80 | 0x100 | 0x200


# Codes where a request's own stack starts: frames from there down (server, middleware) are cut.
BOUNDARIES = set()


def register_boundary(fn):
    """Marks `fn` (a function or method) as where requests enter: its frame and those below are not the request's."""
    code = getattr(getattr(fn, "__func__", fn), "__code__", None)
    if code is not None:
        BOUNDARIES.add(code)
    return fn


class FrameTable:
    """Interned frames: id -> (name, file, line, kind, first line of the function or 0). Ids are never
    reused, so stacks stay valid."""

    def __init__(self):
        self.frames = []
        self._by_code = {}
        self._by_line = {}
        self._lock = threading.Lock()
        self.waiting = self._synthetic(WAITING)
        self.other_work = self._synthetic(OTHER_WORK)
        self.truncated = self._synthetic(TRUNCATED)
        self.boundaries = BOUNDARIES
        # The finished requests' stacks as one call tree, for their records (tree.py; the link thread's).
        self.trie = StackTrie()

    def _synthetic(self, name):
        self.frames.append((name, "", 0, KIND_SYNTHETIC, 0))
        return len(self.frames) - 1

    def capture(self, frame):
        """The stack of `frame` from the request's entry (just above a boundary) to the leaf, as ids; None
        when no boundary is on the stack (the server has the request, not the app)."""
        return self.capture_from(frame, None)[0]

    def capture_from(self, frame, prev):
        """`capture`, starting from the same thread's previous walk `prev` (this method's second result,
        or None): the walk stops at the first frame that is the same frame object, at the same bytecode
        offset, as in that walk, and takes the path above it from there (a function frame that has not
        moved has the same callers). Returns (stack, walk). The walk holds the frame objects it saw until
        the next one, so an id is never reused meanwhile."""
        ids = []
        seen = []
        by_code = self._by_code
        boundaries = self.boundaries
        known = prev[0] if prev is not None else None
        f = frame
        depth = 0
        while f is not None:
            lasti = f.f_lasti
            if known is not None:
                hit = known.get(id(f))
                # A generator's frame can be resumed under other callers: only plain functions are trusted.
                if hit is not None and hit[0] is f and hit[1] == lasti and not f.f_code.co_flags & _SUSPENDABLE:
                    ids.reverse()
                    base = prev[1][:hit[2] + 1]
                    stack = base + tuple(ids)
                    if len(known) > 4 * len(stack) + 16:
                        return stack, None  # stale entries pile up: the next walk starts afresh
                    n = len(base)
                    for j, (g, gl) in enumerate(reversed(seen)):
                        known[id(g)] = (g, gl, n + j)
                    return stack, (known, stack)
            code = f.f_code
            if code in boundaries:
                ids.reverse()
                stack = tuple(ids)
                seen.reverse()
                return stack, ({id(g): (g, gl, j) for j, (g, gl) in enumerate(seen)}, stack)
            if depth >= MAX_DEPTH:
                ids.append(self.truncated)
                break
            # Keyed by the bytecode offset, which is a field, rather than the line, which CPython 3.10+
            # computes from the line table on every read; each offset is resolved to its line once.
            offsets = by_code.get(code)
            if offsets is None:
                offsets = by_code[code] = {}
            i = offsets.get(lasti)
            if i is None:
                i = offsets[lasti] = self._line_id(code, f.f_lineno or 0)
            ids.append(i)
            seen.append((f, lasti))
            f = f.f_back
            depth += 1
        if depth >= MAX_DEPTH:
            ids.reverse()
            return tuple(ids), None
        return None, None

    def _line_id(self, code, line):
        with self._lock:
            lines = self._by_line.get(code)
            if lines is None:
                lines = self._by_line[code] = {}
            i = lines.get(line)
            if i is not None:
                return i
            if len(self.frames) >= MAX_FRAMES:
                return self.truncated
            name = getattr(code, "co_qualname", None) or code.co_name
            # (Sonde 0.4 `starts`) The function's own first line: its `def` (after any decorators).
            self.frames.append((name, code.co_filename, line, KIND_CODE, code.co_firstlineno or 0))
            i = lines[line] = len(self.frames) - 1
            return i
