"""The agent's logger: one line per event on stderr, and each internal error logged once, so a fault that
repeats on every request cannot flood the app's logs. Not the `logging` module: importing it costs every
Python process of an injected container ~12 ms, and the app's logging configuration stays untouched."""

import os
import sys
import threading

_LEVELS = {"trace": 5, "debug": 10, "info": 20, "warn": 30, "error": 40, "fatal": 50, "silent": 100}
_NAMES = {10: "DEBUG", 20: "INFO", 30: "WARNING", 40: "ERROR", 50: "CRITICAL"}
_seen = set()
_seen_lock = threading.Lock()


class _Log:
    """debug/info/warning/error with %-style arguments, as `logging` spells them."""

    level = 30

    def _emit(self, level, message, args):
        if level < self.level:
            return
        try:
            text = message % args if args else message
            sys.stderr.write("sonde %s pid=%d %s\n" % (_NAMES.get(level, "DEBUG"), os.getpid(), text))
        except Exception:
            pass

    def debug(self, message, *args):
        self._emit(10, message, args)

    def info(self, message, *args):
        self._emit(20, message, args)

    def warning(self, message, *args):
        self._emit(30, message, args)

    def error(self, message, *args):
        self._emit(40, message, args)


log = _Log()


def configure(level):
    """Sets the level (SONDE_LOG_LEVEL)."""
    log.level = _LEVELS.get(level, 30)


def error_once(key, message, exc=None):
    """Logs an internal error the first time `key` is seen; later ones are counted silently."""
    with _seen_lock:
        if key in _seen:
            return
        _seen.add(key)
    log.error("%s%s", message, (": %r" % (exc,)) if exc is not None else "")
