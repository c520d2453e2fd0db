"""``python -m racetrack_api.crdgen (--output DIR | --check DIR)``.

``--check`` exits 1 and prints a unified diff when the committed files differ from what the
models generate (including generated files that are missing or stale ones left behind).
"""

from __future__ import annotations

import argparse
import difflib
import sys
from pathlib import Path

from racetrack_api.crdgen.crd import HEADER, render_all


def write(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, content in render_all().items():
        path = directory / name
        path.write_text(content, encoding="utf-8")
        written.append(path)
    return written


def drift(directory: Path) -> str:
    """A unified diff from the files in ``directory`` to the generated ones; empty if none."""
    expected = render_all()
    diffs: list[str] = []
    present = {p.name for p in directory.glob("*.yaml")} if directory.is_dir() else set()
    for name in sorted(present | set(expected)):
        path = directory / name
        actual = path.read_text(encoding="utf-8") if name in present else ""
        # Only flag extra files this generator wrote: someone may keep other YAML here.
        if name not in expected and not actual.startswith(HEADER):
            continue
        wanted = expected.get(name, "")
        if actual != wanted:
            diffs.extend(
                difflib.unified_diff(
                    actual.splitlines(keepends=True),
                    wanted.splitlines(keepends=True),
                    fromfile=f"{path} (committed)",
                    tofile=f"{path} (generated)",
                )
            )
    return "".join(diffs)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m racetrack_api.crdgen", description=__doc__)
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--output", type=Path, metavar="DIR", help="write the CRD files to DIR")
    group.add_argument("--check", type=Path, metavar="DIR", help="fail when DIR has drifted")
    args = parser.parse_args(argv)
    if args.output is not None:
        for path in write(args.output):
            print(f"Wrote {path}")
        return 0
    diff = drift(args.check)
    if diff:
        sys.stdout.write(diff)
        print(
            f"\n{args.check} differs from the models; run: "
            f"python -m racetrack_api.crdgen --output {args.check}",
            file=sys.stderr,
        )
        return 1
    print(f"{args.check} matches the models.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
