"""What a tracemalloc snapshot holds, as text: ``python bench/memory_summary.py FILE``.

``FILE`` is a snapshot written by ``tracemalloc_hook`` (``jobs_scale.py --memory``). Printed:
the memory held by each library (by the file of the innermost frame), then the allocation
sites holding the most, each with the frames that led to it, innermost first.
"""

from __future__ import annotations

import sys
import tracemalloc
from collections import Counter
from pathlib import Path

from profile_summary import library

_NOISE = (tracemalloc.Filter(False, tracemalloc.__file__), tracemalloc.Filter(False, "<frozen *>"))


def _mib(size: int) -> str:
    return f"{size / 2**20:7.1f} MiB"


def summarise(path: Path, top: int = 15) -> str:
    snapshot = tracemalloc.Snapshot.load(str(path)).filter_traces(_NOISE)
    stats = snapshot.statistics("traceback")
    by_library: Counter[str] = Counter()
    by_site: Counter[tracemalloc.Frame] = Counter()
    heaviest: dict[tracemalloc.Frame, tracemalloc.Statistic] = {}
    for stat in stats:
        innermost = stat.traceback[-1]  # a Traceback runs from the oldest frame
        by_library[library(innermost.filename)] += stat.size
        by_site[innermost] += stat.size
        heaviest.setdefault(innermost, stat)  # statistics come largest first
    total = sum(by_site.values())
    blocks = sum(stat.count for stat in stats)
    lines = [f"{_mib(total)} held in {blocks:,} blocks", "By library (innermost frame):"]
    lines += [f"  {_mib(size)}  {name}" for name, size in by_library.most_common(12)]
    lines.append("Largest allocation sites, each with its heaviest path (innermost first):")
    for site, size in by_site.most_common(top):
        lines.append(f"  {_mib(size)}  {site.filename}:{site.lineno}")
        lines += [
            f"      {frame.filename}:{frame.lineno}"
            for frame in reversed(heaviest[site].traceback[:-1])
        ]
    return "\n".join(lines)


def main() -> int:
    for name in sys.argv[1:]:
        print(f"{name}:\n{summarise(Path(name))}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
