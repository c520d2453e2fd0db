"""The operator limits glibc to two malloc arenas, however many threads allocate."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

from racetrack_operator import allocator

# Eight threads allocate at the same time, then glibc describes its heaps (one per arena).
_THREADS = """
import ctypes, sys, threading
from racetrack_operator import allocator

if sys.argv[2] == "limited":
    assert allocator.limit_arenas()
start, hold = threading.Barrier(8), threading.Barrier(8)

def work():
    start.wait()
    blocks = [bytearray(64 * 1024) for _ in range(16)]
    hold.wait()

threads = [threading.Thread(target=work) for _ in range(8)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
libc = ctypes.CDLL(None)
libc.fopen.restype = ctypes.c_void_p
libc.fopen.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
libc.malloc_info.argtypes = [ctypes.c_int, ctypes.c_void_p]
libc.fclose.argtypes = [ctypes.c_void_p]
out = libc.fopen(sys.argv[1].encode(), b"w")
libc.malloc_info(0, out)
libc.fclose(out)
"""

pytestmark = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="arenas are glibc's")


def heaps(tmp_path: Path, mode: str) -> int:
    report = tmp_path / f"{mode}.xml"
    env = {key: value for key, value in os.environ.items() if key != "MALLOC_ARENA_MAX"}
    subprocess.run(
        [sys.executable, "-c", _THREADS, str(report), mode], check=True, env=env, timeout=60
    )
    return report.read_text().count("<heap nr=")


def test_threads_share_two_arenas(tmp_path: Path) -> None:
    assert heaps(tmp_path, "default") > 2  # glibc's own: an arena per allocating thread
    assert heaps(tmp_path, "limited") <= 2


def test_an_explicit_malloc_arena_max_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    assert allocator.limit_arenas() is False
