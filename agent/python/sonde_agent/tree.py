"""A finished request as the protocol's RequestRecord (src/protocol/messages.ts), its call tree in the
wire form of src/model/serialized.ts: a string table, 5 numbers per frame, 5 per node, and (Sonde 0.4)
`starts`, pairs of a frame index and the line its function starts on. Made on the link thread, when the
request is sent, not on the request's own thread."""

import json
from itertools import chain, repeat

MAX_TREE_NODES = 5000
MAX_STRING = 4096
# Trees of at most this many leaves are made from kept skeletons (`_tree_text`): shapes of more leaves
# seldom come again, and making a skeleton costs more than the tree.
SKELETON_LEAVES = 3


def build_record(req, type_, table):
    """The record of `req` (a RequestState whose samples are all in) as a dict; `table` is the FrameTable
    its stacks index into (its `trie` is the link thread's: records are built there)."""
    leaves, samples, cpu_total, waiting_total, held_total = _leaves(req, table)
    record = _head(req, type_, samples, cpu_total, waiting_total, held_total)
    record["tree"] = _tree(leaves, table.trie, table.frames)
    return record


def _leaves(req, table):
    """The leaves of `req`'s tree, each (path of node ids, samples, wall µs, CPU µs), and its totals:
    (leaves, samples, CPU µs, waiting µs, held-up µs)."""
    trie = table.trie
    trie.begin_record(MAX_TREE_NODES)
    path = trie.path
    extend = trie.extend
    leaves = []
    samples = 0
    cpu_total = 0.0
    waiting_total = req.waiting_us
    held_total = req.blocked_us
    for stack, (cs, cwall, ccpu, ws, wwall, hs, hwall) in req.stacks.items():
        if not stack:
            continue
        samples += cs + ws + hs
        cpu_total += ccpu
        p = path(stack)
        if cs or cwall:
            leaves.append((p, cs, cwall, ccpu))
        if ws or wwall:
            leaves.append((extend(p, table.waiting), ws, wwall, 0.0))
            waiting_total += wwall
        if hs or hwall:
            leaves.append((extend(p, table.other_work), hs, hwall, 0.0))
            held_total += hwall
    if req.waiting_samples:
        leaves.append((path((table.waiting,)), req.waiting_samples, req.waiting_us, 0.0))
    if req.blocked_samples:
        leaves.append((path((table.other_work,)), req.blocked_samples, req.blocked_us, 0.0))
    return leaves, samples, cpu_total, waiting_total, held_total


def _head(req, type_, samples, cpu_total, waiting_total, held_total):
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
    }
    if req.status is not None and 100 <= req.status <= 999:
        record["status"] = req.status
    return record


def _tree(leaves, trie, frame_info):
    """The wire tree of a record's leaves: every node on their paths, numbered in id order (parents first),
    the values on the leaves. A tree that would pass MAX_TREE_NODES keeps the leaves' paths in order while
    they fit; a leaf whose path does not fit is charged to its deepest node that does."""
    included = _nodes_of(leaves)
    if len(included) >= MAX_TREE_NODES:
        leaves, included = _cut(leaves)
    tree, local = _skeleton(included, trie, frame_info)
    nodes = tree["nodes"]
    for leaf, (s, w, c) in _leaf_values(leaves).items():
        o = (local[leaf] - 1) * 5
        nodes[o + 2] = s
        nodes[o + 3] = round(w, 3)
        nodes[o + 4] = round(c, 3)
    return tree


def _nodes_of(leaves):
    """Every node on the leaves' paths."""
    included = set()
    for p, _s, _w, _c in leaves:
        included.update(p)
    return included


def _leaf_values(leaves):
    """{leaf node id: (samples, wall µs, CPU µs)}, summed where two leaves end on one node (a cut path)."""
    values = {}
    for p, s, w, c in leaves:
        if p:
            v = values.get(p[-1])
            values[p[-1]] = (s, w, c) if v is None else (v[0] + s, v[1] + w, v[2] + c)
    return values


def _skeleton(included, trie, frame_info):
    """The tree of the nodes `included` (closed under parents), every value 0, and the local index of each
    node id (1-based, 0 for the root), put together with C-level set, sort, map and zip."""
    order = sorted(included)
    n = len(order)
    local = dict(zip(order, range(1, n + 1)))
    local[0] = 0
    parents = list(map(local.__getitem__, map(trie.parent.__getitem__, order)))
    fids = list(map(trie.frame.__getitem__, order))
    unique = list(dict.fromkeys(fids))
    frame_local = dict(zip(unique, range(len(unique))))
    info = list(map(frame_info.__getitem__, unique))
    names, files, lines, kinds, firsts = zip(*info) if info else ((), (), (), (), ())
    if info and max(map(len, chain(names, files))) > MAX_STRING:
        names = tuple(x[:MAX_STRING] for x in names)
        files = tuple(x[:MAX_STRING] for x in files)
    strings = list(dict.fromkeys(chain(("",), names, files)))
    string_index = dict(zip(strings, range(len(strings))))
    frames = list(chain.from_iterable(zip(map(string_index.__getitem__, names), map(string_index.__getitem__, files),
                                          lines, repeat(0), kinds)))
    zeros = repeat(0)
    tree = {"version": 1, "strings": strings, "frames": frames,
            "nodes": list(chain.from_iterable(zip(parents, map(frame_local.__getitem__, fids), zeros, zeros, zeros)))}
    starts = [x for i, first in enumerate(firsts) if first > 0 for x in (i, first)]
    if starts:
        tree["starts"] = starts
    return tree, local


def _tree_text(leaves, trie, frame_info):
    """`_tree` as JSON text, from the skeleton of the same set of leaves kept as text (trie.skeletons):
    records of one kind of request share their few shapes, so most are one lookup and a join. None for a
    tree of more leaves than SKELETON_LEAVES or one that would be cut (the caller builds those as dicts)."""
    values = _leaf_values(leaves)
    if len(values) > SKELETON_LEAVES:
        return None
    key = tuple(sorted(values))
    sk = trie.skeletons.get(key)
    if sk is None:
        included = _nodes_of(leaves)
        if len(included) >= MAX_TREE_NODES:
            return None
        tree, local = _skeleton(included, trie, frame_info)
        nodes = tree["nodes"]
        parts = ["%d,%d,0,0,0" % (nodes[o], nodes[o + 1]) for o in range(0, len(nodes), 5)]
        slots = tuple((local[leaf] - 1, nodes[(local[leaf] - 1) * 5], nodes[(local[leaf] - 1) * 5 + 1]) for leaf in key)
        head = '{"version":1,"strings":%s,"frames":%s,"nodes":[' % (json.dumps(tree["strings"], separators=(",", ":")),
                                                                     json.dumps(tree["frames"], separators=(",", ":")))
        tail = ("],\"starts\":%s}" % json.dumps(tree["starts"], separators=(",", ":"))) if "starts" in tree else "]}"
        sk = (head, parts, slots, tail)
        trie.keep_skeleton(key, sk, len(head) + len(tail) + 12 * len(parts))
    head, parts, slots, tail = sk
    filled = list(parts)
    for (i, parent, frame), leaf in zip(slots, key):
        s, w, c = values[leaf]
        filled[i] = "%d,%d,%d,%r,%r" % (parent, frame, s, round(w, 3), round(c, 3))
    return head + ",".join(filled) + tail


def _cut(leaves):
    """Leaves and nodes of a tree bounded to MAX_TREE_NODES - 1 nodes (the cut the earlier frame-by-frame
    builder made): each path in turn adds its nodes while they fit; the rest of it is charged to its
    deepest node that fits."""
    included = set()
    kept = []
    for p, s, w, c in leaves:
        depth = 0
        for node in p:
            if node not in included:
                if len(included) + 1 >= MAX_TREE_NODES:
                    break
                included.add(node)
            depth += 1
        if depth:
            kept.append((p[:depth], s, w, c))
    return kept, included


_EMPTY_RECORD = ('{"id":%s,"type":%s,"startedAt":%d,"durationMs":%s,"outcome":"%s","samples":0,"cpuUs":0,"waitingUs":0,'
                 '"blockedUs":0,"tree":{"version":1,"strings":[""],"frames":[],"nodes":[]}%s}')
_OUTCOMES = ("ok", "error", "aborted")
_type_json = {}


def _type_text(type_):
    t = _type_json.get(type_)
    if t is None:
        if len(_type_json) >= 1000:
            _type_json.clear()
        t = _type_json[type_] = json.dumps(type_)
    return t


_RECORD = ('{"id":"%s","type":%s,"startedAt":%d,"durationMs":%r,"outcome":"%s","samples":%d,"cpuUs":%d,"waitingUs":%d,'
           '"blockedUs":%d,"tree":%s%s}')


def record_json(req, type_, table):
    """The record of `req` as JSON text, the same as `json.dumps(build_record(...))`. Most requests at 10 ms
    hold no sample at all (they are shorter than the interval): theirs is one string format, without a
    tree; most others share their tree's shape with earlier ones (`_tree_text`)."""
    if req.outcome not in _OUTCOMES:
        return json.dumps(build_record(req, type_, table), separators=(",", ":"))
    end = req.end_perf if req.end_perf is not None else req.start_perf
    status = ',"status":%d' % req.status if req.status is not None and 100 <= req.status <= 999 else ""
    # The id is "<pid>-<n>" (request_state.py), a finite float's repr is its JSON.
    if not req.stacks and not req.waiting_samples and not req.blocked_samples:
        return _EMPTY_RECORD % ('"%s"' % req.id, _type_text(type_), int(req.start_wall * 1000),
                                repr(round((end - req.start_perf) * 1000, 2)), req.outcome, status)
    leaves, samples, cpu_total, waiting_total, held_total = _leaves(req, table)
    tree = _tree_text(leaves, table.trie, table.frames)
    if tree is None:
        record = _head(req, type_, samples, cpu_total, waiting_total, held_total)
        record["tree"] = _tree(leaves, table.trie, table.frames)
        return json.dumps(record, separators=(",", ":"))
    return _RECORD % (req.id, _type_text(type_), int(req.start_wall * 1000), round((end - req.start_perf) * 1000, 2),
                      req.outcome, samples, int(round(cpu_total)), int(round(waiting_total)), int(round(held_total)), tree, status)
