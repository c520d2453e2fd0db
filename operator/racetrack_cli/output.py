"""How admin commands print: aligned tables like kubectl's, JSON or YAML, colour only on a
terminal, and a yes/no question that never blocks a script."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TextIO

import yaml

from racetrack_cli.kubeargs import USAGE, CommandError

FORMATS = ("table", "json", "yaml")

RED, YELLOW, GREEN, DIM, RESET = "\033[31m", "\033[33m", "\033[32m", "\033[2m", "\033[0m"


def add_output_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-o",
        "--output",
        choices=FORMATS,
        default="table",
        help="table (default), json or yaml",
    )


def colour_wanted(stream: TextIO) -> bool:
    """Colour only on a terminal, never when NO_COLOR is set (https://no-color.org)."""
    return stream.isatty() and not os.environ.get("NO_COLOR")


def table(
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    paint: Callable[[int, str], str] | None = None,
) -> str:
    """Columns padded to their widest cell, three spaces apart, as ``kubectl get`` prints;
    ``paint(column, padded_cell)`` may wrap a cell in colour (padding measured before)."""
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(width, len(cell)) for width, cell in zip(widths, row, strict=True)]
    lines = []
    for index, row in enumerate([list(headers), *map(list, rows)]):
        cells = []
        for column, cell in enumerate(row):
            padded = cell if column == len(row) - 1 else cell.ljust(widths[column])
            cells.append(paint(column, padded) if paint and index > 0 else padded)
        lines.append("   ".join(cells).rstrip())
    return "\n".join(lines) + "\n"


def dump(data: Any, output: str) -> str:
    if output == "json":
        return json.dumps(data, indent=2) + "\n"
    text: str = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    return text


def confirm(question: str, assume_yes: bool, stdin: TextIO | None = None) -> bool:
    """Ask on the terminal; without one (a script), only ``--yes`` says yes."""
    if assume_yes:
        return True
    source = stdin or sys.stdin
    if not source.isatty():
        raise CommandError(
            f"{question} needs a confirmation: run it on a terminal, or add --yes", USAGE
        )
    sys.stderr.write(f"{question} [y/N] ")
    sys.stderr.flush()
    answer = source.readline().strip().lower()
    return answer in ("y", "yes")


def api_message(body: str) -> str:
    """The ``message`` of a Kubernetes Status body (what a webhook said), else the body."""
    try:
        parsed: Mapping[str, Any] = json.loads(body)
    except ValueError:
        return body.strip()
    message = parsed.get("message") if isinstance(parsed, dict) else None
    return str(message) if message else body.strip()
