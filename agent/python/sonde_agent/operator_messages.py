"""Checks what the operator sends before the agent acts on it (src/protocol/validate-operator-message.ts
in small): the fields the agent uses, their types and bounds. Unknown fields are ignored."""

import json

MAX_MESSAGE_BYTES = 8 * 1024 * 1024
MAX_STRING = 4096
END_REASONS = ("requests", "deadline", "stopped", "error")


class BadMessage(ValueError):
    """The operator sent something the protocol does not allow; the message names the field."""


def parse_operator_message(text):
    if len(text) > MAX_MESSAGE_BYTES:
        raise BadMessage("message of %d bytes exceeds %d" % (len(text), MAX_MESSAGE_BYTES))
    try:
        m = json.loads(text)
    except ValueError as exc:
        raise BadMessage("not JSON text (%s)" % exc)
    if not isinstance(m, dict):
        raise BadMessage("message must be an object")
    t = m.get("type")
    if t == "welcome":
        return {"type": t, "protocol": _int(m, "protocol"), "agentId": _str(m, "agentId"), "heartbeatMs": _int(m, "heartbeatMs", 1),
                "acks": m.get("acks") is True,
                # (Sonde 0.3) Agent processes of one pod the operator keeps connected; absent: one.
                "processesPerPod": m["processesPerPod"] if isinstance(m.get("processesPerPod"), int) else 1}
    if t == "ack":
        # (Sonde 0.2) A `requests` batch stored, or, with retryAfterMs, not stored: send it again then.
        out = {"type": t, "session": _str(m, "session"), "seq": _int(m, "seq", 1), "retryAfterMs": None}
        if m.get("retryAfterMs") is not None:
            out["retryAfterMs"] = _num(m, "retryAfterMs")
        return out
    if t == "start":
        out = {"type": t, "session": _str(m, "session"), "request": _str(m, "request"),
               "maxRequests": _int(m, "maxRequests", 1), "deadline": _num(m, "deadline"),
               "sampleIntervalMs": _num(m, "sampleIntervalMs")}
        if not 1 <= out["sampleIntervalMs"] <= 1000:
            raise BadMessage("sampleIntervalMs must be between 1 and 1000")
        out["alreadyReported"] = _int(m, "alreadyReported") if m.get("alreadyReported") is not None else 0
        return out
    if t == "stop":
        reason = m.get("reason")
        if reason not in END_REASONS:
            raise BadMessage("reason must be one of %s" % ", ".join(END_REASONS))
        return {"type": t, "session": _str(m, "session"), "reason": reason}
    if t == "limit":
        # (Sonde 0.4) The session's cap on this agent, lowered as the count across agents nears N.
        return {"type": t, "session": _str(m, "session"), "maxRequests": _int(m, "maxRequests", 1)}
    if t == "error":
        return {"type": t, "code": _str(m, "code"), "message": _str(m, "message", allow_empty=True)}
    raise BadMessage("unknown message type %r" % (str(t)[:64],))


def _str(m, key, allow_empty=False):
    v = m.get(key)
    if not isinstance(v, str) or (not v and not allow_empty):
        raise BadMessage("%s must be a non-empty string" % key)
    if len(v) > MAX_STRING:
        raise BadMessage("%s is longer than %d characters" % (key, MAX_STRING))
    return v


def _int(m, key, minimum=0):
    v = m.get(key)
    if isinstance(v, bool) or not isinstance(v, int) or v < minimum:
        raise BadMessage("%s must be a whole number >= %d" % (key, minimum))
    return v


def _num(m, key):
    v = m.get(key)
    if isinstance(v, bool) or not isinstance(v, (int, float)) or v != v or v in (float("inf"), float("-inf")) or v < 0:
        raise BadMessage("%s must be a finite number >= 0" % key)
    return v
