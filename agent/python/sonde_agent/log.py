"""The agent's logger: one line per event on stderr, and each internal error logged once, so a fault that
repeats on every request cannot flood the app's logs."""

import logging
import sys
import threading

_LEVELS = {"trace": 5, "debug": logging.DEBUG, "info": logging.INFO, "warn": logging.WARNING,
           "error": logging.ERROR, "fatal": logging.CRITICAL, "silent": logging.CRITICAL + 10}

log = logging.getLogger("sonde")
_seen = set()
_seen_lock = threading.Lock()


def configure(level):
    """Sets the level (SONDE_LOG_LEVEL) and a stderr handler of our own; the app's logging config is left alone."""
    log.setLevel(_LEVELS.get(level, logging.WARNING))
    log.propagate = False
    if not log.handlers:
        h = logging.StreamHandler(sys.stderr)
        h.setFormatter(logging.Formatter("sonde %(levelname)s pid=%(process)d %(message)s"))
        log.addHandler(h)


def error_once(key, message, exc=None):
    """Logs an internal error the first time `key` is seen; later ones are counted silently."""
    with _seen_lock:
        if key in _seen:
            return
        _seen.add(key)
    try:
        log.error("%s%s", message, (": %r" % (exc,)) if exc is not None else "")
    except Exception:
        pass
