"""The agent's configuration, read once from the environment (the same variables as the Node agent)."""

import os
import re
import socket

LOG_LEVELS = ("trace", "debug", "info", "warn", "error", "fatal", "silent")
MAX_LABELS = 64

# Kubernetes label syntax, as src/session/labels.ts has it for the operator and the Node agent (the
# test runs both over the same keys). Used with fullmatch: `$` would also match before a final "\n".
_LABEL_KEY = re.compile(r"([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?")
# A key's DNS subdomain prefix is at most 253 characters (the name's 63 are in _LABEL_KEY).
MAX_LABEL_PREFIX = 253
_LABEL_VALUE = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?")
LABEL_KEY_RULE = ('an optional DNS subdomain prefix of at most 253 characters and "/", then a name of at most 63 characters '
                  'of [A-Za-z0-9_.-] that starts and ends with a letter or digit')


# The longest key there can be: a 253-character prefix, "/", a 63-character name. Longer keys are
# refused before the pattern runs, so its cost stays bounded whatever the environment holds.
MAX_LABEL_KEY = MAX_LABEL_PREFIX + 1 + 63


def is_label_key(key):
    """Whether `key` is a Kubernetes label key (a qualified name: IsQualifiedName)."""
    if len(key) > MAX_LABEL_KEY or not _LABEL_KEY.fullmatch(key):
        return False
    slash = key.find("/")
    return slash <= MAX_LABEL_PREFIX


def is_label_value(value):
    """Whether `value` is a Kubernetes label value (at most 63 characters, possibly empty)."""
    return _LABEL_VALUE.fullmatch(value) is not None


class ConfigError(ValueError):
    """A configuration problem, reported with the variable that caused it."""


class Config:
    """Everything the agent is told from outside."""

    def __init__(self, url, token, token_file, pod, labels, log_level, ca_cert, ca_file, root=None, time_scale=1.0):
        self.url = url
        self.token = token
        self.token_file = token_file
        self.pod = pod
        self.labels = labels
        self.log_level = log_level
        self.ca_cert = ca_cert
        self.ca_file = ca_file
        # (Sonde 0.4 hello `agent.root`) The directory the application lives in, or None when unknown.
        self.root = root
        # SONDE_TIME_SCALE: stretches the link thread's periods (polls, flushes, progress, catalogue), for a
        # process run under an instruction counter (valgrind) that slows it this many times, so the
        # thread's wake-ups per request stay what they are natively. 1 otherwise.
        self.time_scale = time_scale


def read_config(env=None):
    """Reads the environment (pass a dict to test); returns a Config or raises ConfigError naming the variable."""
    if env is None:
        env = os.environ
    url = _non_empty(env.get("SONDE_URL"))
    if url is not None and not re.match(r"^wss?://", url):
        raise ConfigError("SONDE_URL must be a ws:// or wss:// URL, got %r" % url)
    level = (_non_empty(env.get("SONDE_LOG_LEVEL")) or "warn").lower()
    if level not in LOG_LEVELS:
        raise ConfigError("SONDE_LOG_LEVEL must be one of %s, got %r" % (", ".join(LOG_LEVELS), level))
    pod = {
        "name": _non_empty(env.get("POD_NAME")) or socket.gethostname() or "unknown",
        "namespace": _non_empty(env.get("POD_NAMESPACE")) or "default",
        "uid": _non_empty(env.get("POD_UID")) or "",
    }
    return Config(
        url=url,
        token=_non_empty(env.get("SONDE_TOKEN")),
        token_file=_non_empty(env.get("SONDE_TOKEN_FILE")),
        pod=pod,
        labels=parse_labels(env.get("SONDE_LABELS") or ""),
        log_level=level,
        ca_cert=_non_empty(env.get("SONDE_CA_CERT")),
        ca_file=_non_empty(env.get("SONDE_CA_FILE")),
        root=app_root(env),
        time_scale=_time_scale(env.get("SONDE_TIME_SCALE")),
    )


def _time_scale(raw):
    if raw is None or not raw.strip():
        return 1.0
    try:
        v = float(raw)
    except ValueError:
        v = 0.0
    if not 1.0 <= v <= 1000.0:
        raise ConfigError("SONDE_TIME_SCALE must be a number from 1 to 1000, got %r" % raw[:64])
    return v


MAX_ROOT = 4096


def app_root(env, getcwd=os.getcwd):
    """The application's root directory: SONDE_APP_ROOT (an absolute path; anything else is a
    ConfigError), else the working directory at start (gunicorn's and uvicorn's --chdir land there);
    None when that one cannot be sent (too long, or unreadable)."""
    raw = env.get("SONDE_APP_ROOT")
    if raw is not None and raw.strip():
        root = raw.strip()
        if not root.startswith("/") or len(root) > MAX_ROOT or "\0" in root:
            raise ConfigError("SONDE_APP_ROOT must be an absolute path of at most %d characters, got %r" % (MAX_ROOT, root[:200]))
        return root
    try:
        cwd = getcwd()
    except OSError:
        return None
    return cwd if cwd.startswith("/") and len(cwd) <= MAX_ROOT and "\0" not in cwd else None


def parse_labels(text):
    """Parses `k=v,k=v` (Kubernetes label syntax) as SONDE_LABELS carries it."""
    labels = {}
    for raw in text.split(","):
        part = raw.strip()
        if not part:
            continue
        eq = part.find("=")
        if eq <= 0:
            raise ConfigError('SONDE_LABELS: "%s" is not key=value' % part)
        key, value = part[:eq].strip(), part[eq + 1:].strip()
        if not is_label_key(key):
            raise ConfigError('SONDE_LABELS: "%s" is not a valid label key: %s' % (_shown(key), LABEL_KEY_RULE))
        if not is_label_value(value):
            raise ConfigError('SONDE_LABELS: "%s" is not a valid label value for %s' % (_shown(value), key))
        labels[key] = value
    if len(labels) > MAX_LABELS:
        raise ConfigError("SONDE_LABELS: at most %d labels" % MAX_LABELS)
    return labels


def _shown(text):
    """A value as an error message quotes it: the first 80 characters of a long one, and its length."""
    return text if len(text) <= 80 else "%s… (%d characters)" % (text[:80], len(text))


def _non_empty(v):
    if v is None:
        return None
    v = v.strip()
    return v or None
