"""``racetrack audit``: the audit log, newest first, filtered by user, family or job.

Reads the AuditEvents the admission webhooks write into the platform namespace. As in the
original, a user filter matches who did it and whose job it was (the owner the event's
message names), and at most 100 events are shown unless ``--limit`` says otherwise. Events
of deletions still waiting to happen (``racetrack.io/pending``) are left out unless
``--pending``: a deletion that is refused after admission never happens.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from typing import Any

from racetrack_api.labels import LABEL_FAMILY
from racetrack_api.permissions import DEFAULT_PLATFORM_NAMESPACE
from racetrack_api.v1alpha1 import AuditEvent
from racetrack_cli import kubeargs, output
from racetrack_cli.kubeargs import CommandError
from racetrack_kube import paths
from racetrack_kube.client import ApiError

JsonDict = dict[str, Any]
PENDING_LABEL = "racetrack.io/pending"
COLUMNS = ("TIME", "ACTION", "ACTOR", "FAMILY", "VERSION", "MESSAGE")


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "audit",
        help="the audit log, newest first; filter by user, family or job",
        description="Who did what, newest first: deployments, changes, redeploys and "
        "deletions of jobs, users, consumers, permissions, maintenance and the auth key.",
    )
    parser.add_argument(
        "-n",
        "--namespace",
        default=DEFAULT_PLATFORM_NAMESPACE,
        help="the platform namespace, where the events are (default: %(default)s)",
    )
    kubeargs.add_cluster_arguments(parser, None)
    parser.add_argument("--user", help="events done by USER, or about jobs USER owns")
    parser.add_argument("--family", help="events about the job family FAMILY")
    parser.add_argument(
        "--job", help="events about one job: its Job name (adder-v1-0-0) or FAMILY@VERSION"
    )
    parser.add_argument("--action", help="only this action, e.g. job_deleted")
    parser.add_argument(
        "--limit", type=int, default=100, help="at most this many events (default: 100)"
    )
    parser.add_argument("--pending", action="store_true", help="also deletions not confirmed yet")
    output.add_output_argument(parser)
    parser.set_defaults(handler=_main)


def _main(args: argparse.Namespace) -> int:
    return kubeargs.run("audit", lambda: _audit(args))


async def _audit(args: argparse.Namespace) -> None:
    kube = kubeargs.connect(args)
    selector = f"{LABEL_FAMILY}={args.family}" if args.family else None
    try:
        events = await kube.list_objects(
            paths.racetrack(AuditEvent, args.namespace), label_selector=selector
        )
    except ApiError as error:
        if error.status == 403:
            raise CommandError(
                f"you may not list the audit events in namespace {args.namespace} (an admin "
                "can bind the racetrack-audit-reader ClusterRole there)"
            ) from None
        raise
    finally:
        kube.close()
    chosen = select(
        events,
        user=args.user,
        family=args.family,
        job=args.job,
        action=args.action,
        pending=args.pending,
    )[: max(args.limit, 0)]
    if args.output == "table":
        sys.stdout.write(render_table(chosen) if chosen else "No audit events match.\n")
    else:
        sys.stdout.write(output.dump([_record(event) for event in chosen], args.output))


def select(
    events: Sequence[JsonDict],
    *,
    user: str | None = None,
    family: str | None = None,
    job: str | None = None,
    action: str | None = None,
    pending: bool = False,
) -> list[JsonDict]:
    """The events that match every filter given, newest first."""
    kept = [
        event
        for event in events
        if (pending or _labels(event).get(PENDING_LABEL) != "true")
        and (user is None or _about_user(event, user))
        and (family is None or _spec(event).get("family") == family)
        and (job is None or _about_job(event, job))
        and (action is None or _spec(event).get("action") == action)
    ]
    return sorted(kept, key=lambda event: str(_spec(event).get("time") or ""), reverse=True)


def _about_user(event: JsonDict, user: str) -> bool:
    spec = _spec(event)
    if user in (spec.get("actor"), spec.get("actorUser")):
        return True
    if spec.get("kind") == "User" and spec.get("name") == user:
        return True
    message = str(spec.get("message") or "")
    return re.search(rf"\bof user {re.escape(user)}\b", message) is not None


def _about_job(event: JsonDict, job: str) -> bool:
    spec = _spec(event)
    family, at, version = job.partition("@")
    if at:
        return spec.get("family") == family and spec.get("version") == version
    return spec.get("kind") == "Job" and spec.get("name") == job


def render_table(events: Sequence[JsonDict]) -> str:
    rows = []
    for event in events:
        spec = _spec(event)
        pending = " (pending)" if _labels(event).get(PENDING_LABEL) == "true" else ""
        rows.append(
            [
                str(spec.get("time") or ""),
                str(spec.get("action") or "") + pending,
                str(spec.get("actorUser") or spec.get("actor") or ""),
                str(spec.get("family") or ""),
                str(spec.get("version") or ""),
                str(spec.get("message") or ""),
            ]
        )
    return output.table(COLUMNS, rows)


def _record(event: JsonDict) -> JsonDict:
    return {
        "name": event["metadata"]["name"],
        "pending": _labels(event).get(PENDING_LABEL) == "true",
        **_spec(event),
    }


def _spec(event: JsonDict) -> JsonDict:
    spec: JsonDict = event.get("spec") or {}
    return spec


def _labels(event: JsonDict) -> dict[str, str]:
    labels: dict[str, str] = (event.get("metadata") or {}).get("labels") or {}
    return labels
