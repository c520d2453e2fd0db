"""``racetrack maintenance on|off|status``: switch the maintenance guard.

``on`` creates (or updates) a cluster-scoped Maintenance with ``spec.active: true`` and the
message people see when their change is refused; ``off`` sets every active one to
``active: false`` (kept, so ``kubectl get rtmaint`` still shows the last window), or only the
one named with ``--name`` when several teams hold windows of their own. Both are
audited by the webhooks; among racetrack Users only admins may switch maintenance.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from racetrack_api.v1alpha1 import API_VERSION, Maintenance
from racetrack_cli import kubeargs, output
from racetrack_cli.kubeargs import CommandError
from racetrack_kube import paths
from racetrack_kube.client import Api, ApiError

DEFAULT_NAME = "maintenance"


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "maintenance",
        help="turn maintenance on or off: while on, job changes are refused",
        description="While maintenance is on, deploying, changing, redeploying, moving and "
        "deleting jobs is refused with your message; reads and calls go on.",
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    on = actions.add_parser("on", help="refuse job changes from now on, with a message")
    on.add_argument(
        "-m", "--message", required=True, help="what people see, e.g. 'Upgrade until 14:00 UTC'"
    )
    on.add_argument(
        "--name", default=DEFAULT_NAME, help="the Maintenance object (default: %(default)s)"
    )
    on.add_argument("--block-calls", action="store_true", help="also answer calls to jobs with 503")
    off = actions.add_parser("off", help="accept job changes again")
    off.add_argument(
        "--name",
        help="end only this Maintenance (default: every active one, as the guard checks them all)",
    )
    status = actions.add_parser("status", help="whether maintenance is on, and why")
    for sub in (on, off, status):
        kubeargs.add_cluster_arguments(sub, None)
        sub.set_defaults(handler=_main)


def _main(args: argparse.Namespace) -> int:
    return kubeargs.run(f"maintenance {args.action}", lambda: _maintenance(args))


async def _maintenance(args: argparse.Namespace) -> None:
    kube = kubeargs.connect(args)
    try:
        if args.action == "on":
            await turn_on(kube, args.name, args.message, args.block_calls)
            print(f"Maintenance is on ({args.name}): job changes are refused.")
        elif args.action == "off":
            names = await turn_off(kube, args.name)
            still_on = [item["metadata"]["name"] for item in await active_maintenances(kube)]
            if not names:
                print(
                    f"Maintenance {args.name} was not on."
                    if args.name
                    else "Maintenance was not on."
                )
            elif still_on:
                print(f"Maintenance {', '.join(names)} ended; still on: {', '.join(still_on)}.")
            else:
                print(f"Maintenance is off ({', '.join(names)}): job changes are accepted.")
        else:
            active = await active_maintenances(kube)
            if not active:
                print("Maintenance is off.")
            for item in active:
                spec = item.get("spec") or {}
                print(f"Maintenance is on ({item['metadata']['name']}): {spec.get('message')}")
    except ApiError as error:
        if error.status in (403, 400, 422):
            raise CommandError(f"refused: {output.api_message(error.body)}") from None
        raise
    finally:
        kube.close()


async def turn_on(kube: Api, name: str, message: str, block_calls: bool) -> None:
    spec = {"active": True, "message": message, "blockCalls": block_calls}
    body = {
        "apiVersion": API_VERSION,
        "kind": "Maintenance",
        "metadata": {"name": name},
        "spec": spec,
    }
    created = await kube.create(paths.racetrack(Maintenance), body)
    if created is None:
        await kube.merge_patch(paths.racetrack(Maintenance, None, name), {"spec": spec})


async def turn_off(kube: Api, only: str | None = None) -> list[str]:
    names = []
    for item in await active_maintenances(kube):
        name = str(item["metadata"]["name"])
        if only is not None and name != only:
            continue
        await kube.merge_patch(
            paths.racetrack(Maintenance, None, name), {"spec": {"active": False}}
        )
        names.append(name)
        print(f"  {name}: off", file=sys.stderr)
    return names


async def active_maintenances(kube: Api) -> list[dict[str, Any]]:
    items = await kube.list_objects(paths.racetrack(Maintenance))
    return [item for item in items if (item.get("spec") or {}).get("active", True)]
