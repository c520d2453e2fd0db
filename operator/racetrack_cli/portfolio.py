"""``racetrack portfolio``: every Job with its purge score, the best removal candidates first.

The original dashboard's Portfolio tab as a command: one row per Job (family, version,
status, job type, deployed by, last updated, last called, purge score, reasons), per-column
filters in the dashboard's language (``racetrack_cli.filters``), a table, JSON or YAML, and
``--delete`` for what the filters kept. The purge score is the operator's (``status.purge``);
a job the gateway never saw called says "never called", never a guess.

Deleting is all or nothing where the cluster decides: every deletion is first tried as a
server-side dry run, which the admission webhooks judge like the real one; if any is refused
(maintenance, RBAC), nothing is deleted and the refusal is printed as the cluster said it.
"""

from __future__ import annotations

import argparse
import datetime
import sys
import textwrap
from collections.abc import Sequence
from typing import Any

from racetrack_api import jobphase
from racetrack_api.labels import ANNOTATION_DEPLOYED_BY
from racetrack_api.v1alpha1 import Job
from racetrack_cli import kubeargs, output
from racetrack_cli.filters import ColumnFilter, FilterError, parse_column_filter
from racetrack_cli.kubeargs import USAGE, CommandError
from racetrack_kube import paths
from racetrack_kube.client import NO_ANSWER_ERRORS, ApiError, Kube, no_answer_reason

JsonDict = dict[str, Any]
Cells = dict[str, str | None]

#: Filterable columns, in the table's order (namespace and job only show with -A / in JSON).
COLUMNS = (
    "family",
    "version",
    "namespace",
    "job",
    "status",
    "jobtype",
    "deployed-by",
    "last-updated",
    "last-called",
    "purge",
    "reasons",
)
_HEADERS = {
    "family": "FAMILY",
    "version": "VERSION",
    "namespace": "NAMESPACE",
    "job": "JOB",
    "status": "STATUS",
    "jobtype": "JOBTYPE",
    "deployed-by": "DEPLOYED BY",
    "last-updated": "LAST UPDATED",
    "last-called": "LAST CALLED",
    "purge": "PURGE",
    "reasons": "REASONS",
}
NEVER_CALLED = "never called"
#: Between the reasons of one cell (each is a sentence; none holds a "|").
REASON_SEPARATOR = " | "


EPILOG = f"""\
filters (-f, repeatable; a row must pass all):
  COLUMN=EXPRESSION, or COLUMN<... / COLUMN>... directly
{textwrap.fill(", ".join(COLUMNS), 78, initial_indent="  columns: ", subsequent_indent="    ")}
  an expression is terms joined by && (binds tighter) and ||:
    <x <=x >x >=x   compare as numbers, ISO dates, or text
    =x              exactly x
    *x, or x        contains x
    !x              does not contain x
    {{x / }}x         starts / ends with x
    [empty]         the cell is empty ([nonempty]: it is not)
    rgx:PATTERN     the regular expression matches
  text is compared ignoring case

examples:
  racetrack portfolio -A -f 'purge>=20'
  racetrack portfolio -f 'family={{ad' -f 'last-called=[empty]'
  racetrack portfolio -f 'purge>=20' --delete

exit codes:
  0  done
  1  refused or failed (nothing deleted when a deletion is refused), or not confirmed
  2  invalid command line or filter; --delete without a terminal and without --yes
"""


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "portfolio",
        help="jobs with their purge score, best removal candidates first; filter, delete",
        description="Every Job with its status, who deployed it, when it was last updated "
        "and called, and its purge score (higher: a better candidate for removal) with the "
        "reasons, sorted by purge score.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    kubeargs.add_cluster_arguments(parser, "namespace (default: the kubeconfig context's)")
    parser.add_argument(
        "-A", "--all-namespaces", action="store_true", help="jobs of every namespace"
    )
    parser.add_argument(
        "-f",
        "--filter",
        action="append",
        default=[],
        metavar="FILTER",
        help="keep rows matching COLUMN=EXPRESSION (repeatable; see below)",
    )
    output.add_output_argument(parser)
    parser.add_argument(
        "--delete",
        action="store_true",
        help="delete the jobs listed (after a confirmation; all or none)",
    )
    parser.add_argument("-y", "--yes", action="store_true", help="delete without asking")
    parser.set_defaults(handler=_main)


def _main(args: argparse.Namespace) -> int:
    return kubeargs.run("portfolio", lambda: _portfolio(args))


def parse_filters(texts: Sequence[str]) -> list[ColumnFilter]:
    filters = []
    for text in texts:
        try:
            filters.append(parse_column_filter(text, COLUMNS))
        except FilterError as error:
            raise CommandError(f"invalid filter: {error}", USAGE) from None
    return filters


async def _portfolio(args: argparse.Namespace) -> None:
    filters = parse_filters(args.filter)
    namespace = None if args.all_namespaces else kubeargs.namespace(args)
    kube = kubeargs.connect(args)
    try:
        try:
            jobs = await kube.list_objects(paths.racetrack(Job, namespace))
        except ApiError as error:
            if error.status == 403:
                where = f"namespace {namespace}" if namespace else "every namespace"
                raise CommandError(f"you may not list the Jobs of {where}") from None
            raise
        rows = select(portfolio_rows(jobs), filters)
        if args.output == "table":
            sys.stdout.write(
                render_table(rows, args.all_namespaces, output.colour_wanted(sys.stdout))
                if rows
                else "No jobs match.\n"
            )
        else:
            sys.stdout.write(output.dump([_record(row) for row in rows], args.output))
        if args.delete:
            await delete_rows(kube, rows, args.yes)
    finally:
        kube.close()


def portfolio_rows(jobs: Sequence[JsonDict], now: datetime.datetime | None = None) -> list[Cells]:
    """One row of cells per Job (empty cells are None), best removal candidates first."""
    moment = now or datetime.datetime.now(datetime.UTC)
    rows = [_cells(job, moment) for job in jobs]
    return sorted(rows, key=_order)


def _order(row: Cells) -> tuple[float, str, str, str]:
    score = float(row["purge"]) if row["purge"] else -1.0
    return (-score, row["family"] or "", row["version"] or "", row["namespace"] or "")


def _cells(job: JsonDict, now: datetime.datetime) -> Cells:
    metadata: JsonDict = job.get("metadata") or {}
    spec: JsonDict = job.get("spec") or {}
    status: JsonDict = job.get("status") or {}
    purge: JsonDict = status.get("purge") or {}
    called = jobphase.last_call(job)
    score = purge.get("score")
    return {
        "family": str(spec.get("name") or ""),
        "version": str(spec.get("version") or ""),
        "namespace": str(metadata.get("namespace") or ""),
        "job": str(metadata.get("name") or ""),
        "status": jobphase.phase(job, now),
        "jobtype": str(spec.get("jobtype") or ""),
        "deployed-by": (metadata.get("annotations") or {}).get(ANNOTATION_DEPLOYED_BY),
        "last-updated": _stamp(jobphase.updated_at(job)),
        "last-called": _stamp(called) if called else None,
        "purge": _score(score) if isinstance(score, int | float) else None,
        "reasons": REASON_SEPARATOR.join(purge.get("reasons") or []) or None,
    }


def _stamp(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _score(score: float) -> str:
    return f"{score:g}"


def select(rows: Sequence[Cells], filters: Sequence[ColumnFilter]) -> list[Cells]:
    return [row for row in rows if all(f.matches(row) for f in filters)]


def render_table(rows: Sequence[Cells], with_namespace: bool, colour: bool) -> str:
    columns = [c for c in COLUMNS if c != "job" and (with_namespace or c != "namespace")]
    cells = [[_shown(column, row[column]) for column in columns] for row in rows]
    purge_at, status_at = columns.index("purge"), columns.index("status")

    def paint(column: int, text: str) -> str:
        if not colour:
            return text
        value = text.strip()
        if column == status_at and value in ("error", "lost"):
            return f"{output.RED}{text}{output.RESET}"
        if column == purge_at and value not in ("", "<none>") and float(value) >= 20:
            return f"{output.RED}{text}{output.RESET}"
        if column == purge_at and value not in ("", "<none>") and float(value) > 0:
            return f"{output.YELLOW}{text}{output.RESET}"
        return text

    return output.table([_HEADERS[c] for c in columns], cells, paint)


def _shown(column: str, value: str | None) -> str:
    if value:
        return value
    if column == "last-called":
        return NEVER_CALLED
    return "<none>"


def _record(row: Cells) -> JsonDict:
    """A row for JSON and YAML: the score as a number, reasons as a list."""
    purge = row["purge"]
    return {
        **{column: row[column] for column in COLUMNS if column not in ("purge", "reasons")},
        "purge": float(purge) if purge else None,
        "reasons": (row["reasons"] or "").split(REASON_SEPARATOR) if row["reasons"] else [],
    }


async def delete_rows(kube: Kube, rows: Sequence[Cells], assume_yes: bool) -> None:
    if not rows:
        print("Nothing to delete.", file=sys.stderr)
        return
    names = [f"{row['namespace']}/{row['job']}" for row in rows]
    question = f"Delete {len(rows)} job(s): {', '.join(names)}?"
    if not output.confirm(question, assume_yes):
        raise CommandError("not confirmed; nothing deleted")
    # Every deletion as a dry run first: the webhooks judge it (maintenance, permissions)
    # without it happening, so a refusal leaves every job in place.
    for row, name in zip(rows, names, strict=True):
        try:
            await _delete(kube, row, dry_run=True)
        except ApiError as error:
            raise CommandError(
                f"the cluster refuses to delete {name}, so nothing was deleted: "
                f"{output.api_message(error.body)}"
            ) from None
    deleted = 0
    for row, name in zip(rows, names, strict=True):
        try:
            gone = await _delete(kube, row, dry_run=False)
        except ApiError as error:
            raise CommandError(
                f"deleted {deleted} of {len(rows)} job(s); the cluster refused {name}: "
                f"{output.api_message(error.body)}"
            ) from None
        except NO_ANSWER_ERRORS as error:
            raise CommandError(
                f"deleted {deleted} of {len(rows)} job(s); the API server did not answer the "
                f"deletion of {name} ({no_answer_reason(error)}): list them again to see "
                "what is left"
            ) from None
        deleted += 1
        print(f"job {name} {'deleted' if gone else 'was already gone'}", file=sys.stderr)
    print(f"Deleted {deleted} job(s).", file=sys.stderr)


async def _delete(kube: Kube, row: Cells, dry_run: bool) -> bool:
    path = paths.racetrack(Job, row["namespace"], row["job"])
    # In the DeleteOptions body, not the query: the API server reads only one of them, and
    # the body wins (a query's dryRun next to a body is ignored, and the delete happens).
    options: JsonDict = {"propagationPolicy": "Background"}
    if dry_run:
        options["dryRun"] = ["All"]
    try:
        await kube.request("DELETE", path, options)
    except ApiError as error:
        if error.status == 404:
            return False
        raise
    return True
