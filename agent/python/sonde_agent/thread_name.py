"""Gives the calling thread its name in the kernel (/proc/self/task/<native id>/comm), where `top -H`,
`ps -T`, `pidstat -t` and the benchmark read it: the agent's own threads, and what CPU they use, can then
be told apart from the app's at a glance. CPython before 3.14 leaves every thread with the process's
name. Linux only; where /proc cannot be written, the thread keeps its name and nothing else happens."""

import threading

# The kernel keeps 15 bytes of a thread's name (TASK_COMM_LEN, less the terminating NUL).
MAX_NAME_BYTES = 15


def name_this_thread(name):
    try:
        with open("/proc/self/task/%d/comm" % threading.get_native_id(), "wb") as f:
            f.write(name.encode("ascii", "replace")[:MAX_NAME_BYTES])
    except OSError:
        pass
