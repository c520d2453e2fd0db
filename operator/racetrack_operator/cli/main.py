"""``racetrack``: the command line entry point; each command group lives in its own module."""

from __future__ import annotations

import argparse
import sys

from racetrack_operator.cli import dev


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="racetrack", description="Deploy and govern Racetrack jobs on Kubernetes."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    dev.register(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    exit_code: int = args.handler(args)
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
