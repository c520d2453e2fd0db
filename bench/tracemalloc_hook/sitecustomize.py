"""Traces a benchmarked process's memory from its first import (``jobs_scale.py --memory``).

Python imports ``sitecustomize`` at start-up from the path, so putting this folder on the
operator's ``PYTHONPATH`` with ``RACETRACK_TRACEMALLOC_DIR`` set starts ``tracemalloc``
before anything allocates, with no line of the operator changed. A thread then writes
snapshots into that folder, for ``memory_summary.py`` to read:

- ``peak.snapshot`` whenever the traced memory has grown by a quarter past the last one
  written, so the last one written shows what was held near the process's peak;
- ``now.snapshot`` when a file named ``now`` appears (the benchmark creates it at the end of
  a phase), which it then removes.

Next to each, ``.txt`` records the traced memory then, its peak, tracemalloc's own overhead
and the process's resident memory, to tell memory Python holds from memory it freed but the
allocator kept. Taking a snapshot copies every trace, which the process then holds on to as
well: the resident size of a traced run says nothing about an untraced one.
"""

from __future__ import annotations

import os
import threading
import time
import tracemalloc
from pathlib import Path

_FOLDER = os.environ.get("RACETRACK_TRACEMALLOC_DIR", "")
_FRAMES = int(os.environ.get("RACETRACK_TRACEMALLOC_FRAMES", "6"))
#: Traced memory below this is start-up, not worth a snapshot.
_FLOOR = 32 * 1024 * 1024
_GROWTH = 1.25


def _rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def _write(folder: Path, name: str) -> int:
    # Figures first: the snapshot's own copy of every trace is resident memory too.
    current, peak = tracemalloc.get_traced_memory()
    figures = (
        f"traced {current} peak {peak} overhead {tracemalloc.get_tracemalloc_memory()} "
        f"rss {_rss_bytes()} at {time.time():.0f}\n"
    )
    tracemalloc.take_snapshot().dump(str(folder / f"{name}.snapshot.tmp"))
    (folder / f"{name}.snapshot.tmp").replace(folder / f"{name}.snapshot")
    (folder / f"{name}.txt").write_text(figures)
    return current


def _watch(folder: Path) -> None:
    last_written = _FLOOR
    while True:
        time.sleep(1.0)
        if (folder / "now").exists():
            _write(folder, "now")
            (folder / "now").unlink(missing_ok=True)
        current, _ = tracemalloc.get_traced_memory()
        if current > last_written * _GROWTH:
            last_written = _write(folder, "peak")


if _FOLDER:
    tracemalloc.start(_FRAMES)
    threading.Thread(
        target=_watch, args=(Path(_FOLDER),), name="tracemalloc-snapshots", daemon=True
    ).start()
