"""Where a py-spy profile's samples fall, as text: ``python bench/profile_summary.py FILE``.

``FILE`` holds collapsed stacks (``py-spy record --format raw``): one line per distinct stack,
``frame;frame;...;frame COUNT`` from the thread down to the innermost function, each frame
``function (path:line)``. Printed: the share of samples whose innermost frame lies in each
library (self time), and the functions with the most samples anywhere in their stacks
(inclusive time), the operator's own and kopf's first, then the innermost functions overall.
"""

from __future__ import annotations

import re
import sys
from collections import Counter
from pathlib import Path

_FRAME = re.compile(r"^(?P<function>.*?) \((?P<path>[^:()]*)(?::\d+)?\)$")

#: Libraries by the path fragment that identifies their files, most specific first.
LIBRARIES = (
    ("racetrack operator", "racetrack_operator/"),
    ("racetrack api models", "racetrack_api/"),
    ("kopf", "kopf/"),
    ("kubernetes client", "kubernetes/"),
    ("pydantic", "pydantic"),
    ("aiohttp", "aiohttp/"),
    ("urllib3", "urllib3/"),
    ("json", "json/"),
    ("ssl / sockets", "ssl.py"),
    ("asyncio", "asyncio/"),
    ("logging", "logging/"),
    ("yaml", "yaml/"),
    ("prometheus", "prometheus_client/"),
    ("threads / queues", "threading.py"),
    ("threads / queues", "concurrent/"),
)


def library(path: str) -> str:
    for name, fragment in LIBRARIES:
        if fragment in path:
            return name
    return "other"


def parse(text: str) -> list[tuple[list[tuple[str, str]], int]]:
    """Each stack as (function, path) frames from the outermost, with its sample count."""
    stacks = []
    for line in text.splitlines():
        body, _, count = line.rpartition(" ")
        if not body or not count.isdigit():
            continue
        frames = []
        for raw in body.split(";"):
            found = _FRAME.match(raw.strip())
            if found:
                frames.append((found["function"], found["path"]))
        if frames:
            stacks.append((frames, int(count)))
    return stacks


def summarise(text: str, top: int = 20) -> str:
    stacks = parse(text)
    total = sum(count for _, count in stacks)
    if not total:
        return "  (no samples)"
    own: Counter[str] = Counter()
    inclusive: Counter[tuple[str, str]] = Counter()
    innermost: Counter[tuple[str, str]] = Counter()
    for frames, count in stacks:
        own[library(frames[-1][1])] += count
        innermost[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count

    def share(count: int) -> str:
        return f"{100 * count / total:5.1f}%"

    def name(frame: tuple[str, str]) -> str:
        function, path = frame
        return f"{function} ({'/'.join(path.split('/')[-2:])})"

    lines = [f"  {total} samples; self time by library:"]
    lines += [f"    {share(count)}  {lib}" for lib, count in own.most_common()]
    ours = [f for f in inclusive if library(f[1]) in ("racetrack operator", "kopf")]
    lines.append("  operator and kopf functions by inclusive time:")
    lines += [
        f"    {share(inclusive[f])}  {name(f)}"
        for f in sorted(ours, key=lambda f: -inclusive[f])[:top]
    ]
    lines.append("  innermost functions (self time):")
    lines += [f"    {share(count)}  {name(f)}" for f, count in innermost.most_common(top)]
    return "\n".join(lines)


def main() -> int:
    print(summarise(Path(sys.argv[1]).read_text()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
