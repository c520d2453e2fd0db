"""``racetrack``: the command line entry point; each command group lives in its own module
(``racetrack token``: ``token``; ``racetrack auth``: ``auth``; ``racetrack graph``:
``permgraph``, beside the pure ``graph`` it draws with).

Command groups that are not part of the installed product register through the
``racetrack.cli`` entry point group. The only one today is ``racetrack dev`` (the local
cluster), which lives in a source checkout and never in the wheel: from a wheel its entry
point cannot be loaded, and ``racetrack dev`` says where to get it instead of failing with a
traceback. The product's packages therefore never import the dev cluster.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import sys
from typing import Any

from racetrack_cli import (
    audit,
    auth,
    backup,
    call,
    deploy,
    jobs,
    maintenance,
    permgraph,
    portfolio,
    redeploy,
    registry,
    restore,
    source,
    token,
)

ENTRY_POINT_GROUP = "racetrack.cli"


def _register_plugins(commands: Any) -> None:
    for entry in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        try:
            register = entry.load()
        except ModuleNotFoundError as error:
            _register_missing(commands, entry.name, str(error))
            continue
        register(commands)


def _register_missing(commands: Any, name: str, why: str) -> None:
    parser = commands.add_parser(name, help=f"(not installed: {why})", add_help=False)
    parser.add_argument("rest", nargs=argparse.REMAINDER)

    def explain(args: argparse.Namespace) -> int:
        print(
            f"racetrack {name}: not available in this installation ({why}). "
            "It comes with a source checkout: git clone the repository and run "
            "`pip install -e '.[dev]'` there.",
            file=sys.stderr,
        )
        return 2

    parser.set_defaults(handler=explain)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="racetrack", description="Deploy and govern Racetrack jobs on Kubernetes."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    everyday = (deploy, jobs, call, token, auth, source)
    admin = (portfolio, permgraph, audit, redeploy, maintenance, registry, backup, restore)
    for group in (*everyday, *admin):
        group.register(commands)
    _register_plugins(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    exit_code: int = args.handler(args)
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
