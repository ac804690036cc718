"""A finished request as the protocol's RequestRecord (src/protocol/messages.ts), its call tree in the
wire form of src/model/serialized.ts: a string table, 5 numbers per frame, 5 per node, and (Sonde 0.4)
`starts`, pairs of a frame index and the line its function starts on. Made on the link thread, when the
request is sent, not on the request's own thread."""

import json

MAX_TREE_NODES = 5000
MAX_STRING = 4096


def build_record(req, type_, table):
    """The record of `req` (a RequestState whose samples are all in); `table` is the FrameTable its stacks
    index into."""
    strings = [""]
    string_index = {"": 0}
    frames = []
    frame_index = {}
    nodes = []
    child_of = {}
    starts = []

    def intern(s):
        if len(s) > MAX_STRING:
            s = s[:MAX_STRING]
        i = string_index.get(s)
        if i is None:
            i = string_index[s] = len(strings)
            strings.append(s)
        return i

    def local_frame(fid):
        i = frame_index.get(fid)
        if i is None:
            name, file, line, kind, first = table.frames[fid]
            i = frame_index[fid] = len(frames) // 5
            frames.extend((intern(name), intern(file), line, 0, kind))
            if first > 0:
                starts.extend((i, first))
        return i

    def add(stack, samples, wall_us, cpu_us):
        parent = 0
        for fid in stack:
            f = local_frame(fid)
            key = (parent, f)
            node = child_of.get(key)
            if node is None:
                if len(nodes) // 5 + 1 >= MAX_TREE_NODES:
                    break  # a pathological request: the rest of this stack is charged to its deepest known frame
                node = len(nodes) // 5 + 1
                nodes.extend((parent, f, 0, 0.0, 0.0))
                child_of[key] = node
            parent = node
        if parent == 0:
            return
        o = (parent - 1) * 5
        nodes[o + 2] += samples
        nodes[o + 3] += wall_us
        nodes[o + 4] += cpu_us

    samples = 0
    cpu_total = 0.0
    waiting_total = req.waiting_us
    held_total = req.blocked_us
    for stack, (cs, cwall, ccpu, ws, wwall, hs, hwall) in req.stacks.items():
        if not stack:
            continue
        samples += cs + ws + hs
        cpu_total += ccpu
        if cs or cwall:
            add(stack, cs, cwall, ccpu)
        if ws or wwall:
            add(stack + (table.waiting,), ws, wwall, 0.0)
            waiting_total += wwall
        if hs or hwall:
            add(stack + (table.other_work,), hs, hwall, 0.0)
            held_total += hwall
    if req.waiting_samples:
        add((table.waiting,), req.waiting_samples, req.waiting_us, 0.0)
    if req.blocked_samples:
        add((table.other_work,), req.blocked_samples, req.blocked_us, 0.0)
    for o in range(3, len(nodes), 5):
        nodes[o] = round(nodes[o], 3)
        nodes[o + 1] = round(nodes[o + 1], 3)
    end = req.end_perf if req.end_perf is not None else req.start_perf
    record = {
        "id": req.id,
        "type": type_,
        "startedAt": int(req.start_wall * 1000),
        "durationMs": round((end - req.start_perf) * 1000, 2),
        "outcome": req.outcome,
        "samples": samples,
        "cpuUs": int(round(cpu_total)),
        "waitingUs": int(round(waiting_total)),
        "blockedUs": int(round(held_total)),
        "tree": {"version": 1, "strings": strings, "frames": frames, "nodes": nodes},
    }
    if starts:
        record["tree"]["starts"] = starts
    if req.status is not None and 100 <= req.status <= 999:
        record["status"] = req.status
    return record


_EMPTY_RECORD = ('{"id":%s,"type":%s,"startedAt":%d,"durationMs":%s,"outcome":"%s","samples":0,"cpuUs":0,"waitingUs":0,'
                 '"blockedUs":0,"tree":{"version":1,"strings":[""],"frames":[],"nodes":[]}%s}')
_OUTCOMES = ("ok", "error", "aborted")
_type_json = {}


def record_json(req, type_, table):
    """The record of `req` as JSON text. Most requests at 10 ms hold no sample at all (they are shorter
    than the interval): theirs is one string format, without building a tree."""
    if not req.stacks and not req.waiting_samples and not req.blocked_samples and req.outcome in _OUTCOMES:
        end = req.end_perf if req.end_perf is not None else req.start_perf
        status = ',"status":%d' % req.status if req.status is not None and 100 <= req.status <= 999 else ""
        t = _type_json.get(type_)
        if t is None:
            if len(_type_json) >= 1000:
                _type_json.clear()
            t = _type_json[type_] = json.dumps(type_)
        # The id is "<pid>-<n>" (request_state.py), a finite float's repr is its JSON.
        return _EMPTY_RECORD % ('"%s"' % req.id, t, int(req.start_wall * 1000),
                                repr(round((end - req.start_perf) * 1000, 2)), req.outcome, status)
    return json.dumps(build_record(req, type_, table), separators=(",", ":"))
