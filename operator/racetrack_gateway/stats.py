"""HAProxy's counters (``show stat``, CSV) as the agent uses them (pure).

Per job version, the server's row: calls forwarded, responses by class, connection and
response errors, the average of the last calls' total time, and seconds since the last
call (which becomes the Job's last call time). The frontend's row gives the totals,
refusals included.
"""

from __future__ import annotations

import csv
import dataclasses
import io

RESPONSE_CLASSES = ("1xx", "2xx", "3xx", "4xx", "5xx", "other")


@dataclasses.dataclass(frozen=True)
class Row:
    proxy: str
    name: str
    sessions: int
    responses: dict[str, int]
    connect_errors: int
    response_errors: int
    retries: int
    seconds_since_last: int | None
    average_total_ms: int


def _int(value: str | None) -> int:
    try:
        return int(value or 0)
    except ValueError:
        return 0


def parse(text: str) -> list[Row]:
    """Rows of ``show stat`` (frontends, backends and servers alike)."""
    lines = text.lstrip("# ").splitlines()
    rows = []
    for record in csv.DictReader(io.StringIO("\n".join(lines))):
        last = record.get("lastsess") or ""
        rows.append(
            Row(
                proxy=record.get("pxname") or "",
                name=record.get("svname") or "",
                sessions=_int(record.get("stot")),
                responses={c: _int(record.get(f"hrsp_{c}")) for c in RESPONSE_CLASSES},
                connect_errors=_int(record.get("econ")),
                response_errors=_int(record.get("eresp")),
                retries=_int(record.get("wretr")),
                seconds_since_last=int(last)
                if last.lstrip("-").isdigit() and int(last) >= 0
                else None,
                average_total_ms=_int(record.get("ttime")),
            )
        )
    return rows


def servers(rows: list[Row]) -> dict[str, Row]:
    """Rows of the job versions' servers, by server name."""
    return {
        row.name: row
        for row in rows
        if row.proxy.startswith("b")
        and row.proxy[1:].isdigit()
        and row.name not in ("FRONTEND", "BACKEND")
    }


def frontend(rows: list[Row]) -> Row | None:
    for row in rows:
        if row.proxy == "gateway" and row.name == "FRONTEND":
            return row
    return None
