"""A thread's CPU time as the kernel counts it (/proc/self/task/<native id>/schedstat: nanoseconds on CPU,
then nanoseconds runnable but waiting for a CPU), the only way to tell a thread computing from one blocked
in recv or on a lock: its stack looks the same. Linux only; elsewhere every sample counts as CPU."""

import os
import time

# The calling thread's own CPU ns, the same count as schedstat's first field (the scheduler's
# sum_exec_runtime, brought up to date): one C call, no file. A followed request reads it at its start and
# end on its own thread; only the sampler reads schedstat (once a tick per followed thread).
own_cpu_ns = time.thread_time_ns

# A reading whose run-queue part is unknown (taken with `own_cpu_ns`): its second field.
NO_RUNQ = -1


class ThreadCpu:
    """Reads one thread's CPU nanoseconds; keeps its file open (one pread per sample). `last` and
    `last_tick` are the sampler's previous reading of this thread and the tick it was taken at."""

    __slots__ = ("fd", "last", "last_tick")

    def __init__(self, native_id):
        self.last = (-1, -1)
        self.last_tick = -1
        try:
            self.fd = os.open("/proc/self/task/%d/schedstat" % native_id, os.O_RDONLY)
        except OSError:
            self.fd = -1

    def read_ns(self):
        """(CPU ns, run-queue wait ns) so far, or (-1, -1) when unknown."""
        if self.fd < 0:
            return (-1, -1)
        try:
            f = os.pread(self.fd, 96, 0).split(None, 2)
            return (int(f[0]), int(f[1]))
        except (OSError, ValueError, IndexError):
            return (-1, -1)

    def close(self):
        if self.fd >= 0:
            try:
                os.close(self.fd)
            except OSError:
                pass
            self.fd = -1


_readers = {}


def reader_for(native_id):
    """A shared reader per native thread id (threads serve many requests in turn)."""
    r = _readers.get(native_id)
    if r is None:
        if len(_readers) > 4096:
            for old in _readers.values():
                old.close()
            _readers.clear()
        r = _readers[native_id] = ThreadCpu(native_id)
    return r


def reset_after_fork():
    """A forked child has other thread ids: the parent's readers describe nothing."""
    for r in _readers.values():
        r.close()
    _readers.clear()
