"""The stacks of finished requests as paths in one call tree, kept by the link thread (its only user) for
the records it builds (tree.py). A stack's path is worked out once, the first time a record holds it;
a record's tree is then the union of its stacks' paths, put together by C-level set, sort, map and zip
instead of frame by frame in Python: at 10 ms most records hold one or two stacks of 30-odd frames, and
building them frame by frame was about a third of what sampling cost a request (callgrind)."""

# Nodes and cached paths kept between records; beyond either, the next record starts a fresh tree (ids
# are only meaningful inside one record's build, so nothing else holds them).
MAX_NODES = 100_000
MAX_PATHS = 20_000
# Records' tree skeletons kept as text (tree.py `_tree_text`), by total size.
MAX_SKELETON_CHARS = 4 * 1024 * 1024


class StackTrie:
    """Node 0 is the root; every other node is (parent node, frame id of the FrameTable). A child's id is
    always greater than its parent's, so sorting ids puts parents before children."""

    __slots__ = ("parent", "frame", "_child", "_paths", "_budget", "skeletons", "_skeleton_chars")

    def __init__(self):
        self.parent = [0]
        self.frame = [0]
        self._child = {}
        self._paths = {}
        self._budget = 0
        # Leaf node ids (sorted) -> a record tree's text around its leaves' values (tree.py).
        self.skeletons = {}
        self._skeleton_chars = 0

    def begin_record(self, budget):
        """Before each record: starts afresh when the tree has grown past its bounds, and allows at most
        `budget` new nodes while this record is built (a record that needs more is cut anyway)."""
        if len(self.parent) > MAX_NODES or len(self._paths) > MAX_PATHS:
            self.parent = [0]
            self.frame = [0]
            self._child = {}
            self._paths = {}
            self.skeletons = {}
            self._skeleton_chars = 0
        self._budget = budget

    def keep_skeleton(self, key, skeleton, chars):
        """Keeps a record tree's skeleton (its key names node ids: dropped with the tree), within its bound."""
        if self._skeleton_chars + chars > MAX_SKELETON_CHARS:
            self.skeletons = {}
            self._skeleton_chars = 0
        self.skeletons[key] = skeleton
        self._skeleton_chars += chars

    def path(self, stack):
        """The node ids from the root's child to `stack`'s leaf. Shorter than the stack only when this
        record's budget of new nodes ran out (such a path is not kept)."""
        p = self._paths.get(stack)
        if p is not None:
            return p
        child = self._child
        node = 0
        out = []
        for fid in stack:
            key = (node, fid)
            n = child.get(key)
            if n is None:
                n = self._add(key)
                if n is None:
                    return tuple(out)
            out.append(n)
            node = n
        p = self._paths[stack] = tuple(out)
        return p

    def extend(self, path, fid):
        """`path` with one more frame (a synthetic leaf: waiting, held up) under its leaf."""
        node = path[-1] if path else 0
        key = (node, fid)
        n = self._child.get(key)
        if n is None:
            n = self._add(key)
            if n is None:
                return path
        return path + (n,)

    def _add(self, key):
        """A new node for `key` (parent node, frame id), or None when this record's budget is spent."""
        if self._budget <= 0:
            return None
        self._budget -= 1
        n = self._child[key] = len(self.parent)
        self.parent.append(key[0])
        self.frame.append(key[1])
        return n
