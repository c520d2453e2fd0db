"""The C allocator's arenas: two, not glibc's default of up to eight per core.

glibc gives each thread that allocates an arena of its own, and memory freed in an arena is
reused by that arena only. The operator's API client reads and decodes answers in a pool of
threads and its watches read in threads of their own, while the event loop frees what they
made: each arena keeps its own high-water mark of freed memory, and the resident size grows
with the number of threads that ever allocated. Two arenas share that memory; the threads
wait on each other's arena lock rarely, since they mostly wait on the network (the
benchmark in docs/performance.md measured no change in CPU per Job).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os

#: mallopt's parameter for the most arenas (glibc's malloc.h).
M_ARENA_MAX = -8
ARENAS = 2


def limit_arenas(arenas: int = ARENAS) -> bool:
    """Ask glibc for at most ``arenas`` arenas; whether it took the limit. Call it before any
    thread starts. ``MALLOC_ARENA_MAX`` in the environment (read by glibc itself) wins, and
    another C library (musl) leaves this a no-op."""
    if "MALLOC_ARENA_MAX" in os.environ:
        return False
    try:
        mallopt = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(M_ARENA_MAX, arenas))
