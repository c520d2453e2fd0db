"""The JSON bodies of the gateway's own answers, as HAProxy log-format templates.

Every refusal is ``{"error": ..., "requestId": ...}`` (the original pub's shape), with the
request id that is also in the tracing header, so a caller can quote it and an operator
can find the request in the logs. Parts that come from the request or the tables go
through HAProxy's ``json`` converter, so no input can break the JSON.

Texts keep the original's words where callers may match on them (``Unauthenticated``,
``no permission to do this operation``, the maintenance sentence) and say what to fix.
"""

from __future__ import annotations

from racetrack_gateway.render import tables


def _text(sample: str) -> str:
    """A sample expression, JSON-escaped, to embed in a template string."""
    return f"%[{sample},json(utf8s)]"


def _var(name: str) -> str:
    return _text(f"var(txn.{name})")


REQUEST_ID = _var("rid")
FAMILY = _var("fam")
REQUESTED = _var("req")
VERSION = _var("ver")
NAMESPACE = _var("ns")
ENDPOINT = _text("var(txn.rest),regsub(^$,/)")


def _body(error: str, **extra: str) -> str:
    fields = [f'"error": "{error}"', *(f'"{k}": "{v}"' for k, v in extra.items())]
    fields.append(f'"requestId": "{REQUEST_ID}"')
    return "{" + ", ".join(fields) + "}\n"


def _job(**extra: str) -> dict[str, str]:
    return {"job": FAMILY, "version": VERSION, **extra}


def answers(token_header: str, state_map: str) -> dict[str, str]:
    """File name -> template, for ``http-request return ... lf-file`` and ``http-error``."""
    return {
        "not-a-route.json": _body(
            "Not found: jobs are called at /pub/job/<name>/<version>/<path>, where version is "
            "an exact version, latest, or a wildcard such as 1.x"
        ),
        "bad-path.json": _body(
            "Bad request: the path must not contain //, /./, /../, a backslash, or an encoded "
            "slash, backslash, dot or NUL"
        ),
        "many-tokens.json": _body(f"Bad request: send one {token_header} header, not several"),
        "maintenance.json": _body(
            _text(f"str({tables.MAINTENANCE_KEY}),map({state_map})"),
        ),
        "no-family.json": _body(f"Job was not found: no job named {FAMILY}", job=FAMILY),
        "no-alias.json": _body(
            f"Job was not found: no serving stable version of job {FAMILY} matches {REQUESTED}",
            job=FAMILY,
        ),
        "no-version.json": _body(
            f"Job was not found: job {FAMILY} has no version {REQUESTED}", job=FAMILY
        ),
        "no-token.json": _body(
            f"Unauthenticated: auth token not found in a header {token_header}", **_job()
        ),
        "bad-token.json": _body(
            f"Unauthenticated: the token in {token_header} is not valid (unknown, malformed, "
            "expired or revoked)",
            **_job(),
        ),
        "forbidden.json": _body(
            'no permission to do this operation: auth subject \\"'
            + _var("caller")
            + '\\" does not have permission to access endpoint '
            + ENDPOINT
            + ' at resource \\"'
            + f"{FAMILY} v{VERSION}"
            + '\\" with scope \\"call_job\\"',
            **_job(caller=_var("caller"), endpoint=ENDPOINT),
        ),
        "not-serving.json": _body(
            f"Job {FAMILY} v{VERSION} is not serving yet (it is starting, rolling out or "
            f"failing); kubectl -n {NAMESPACE} get rtjobs says why",
            **_job(),
        ),
        "no-server.json": _body(
            f"Job {FAMILY} v{VERSION} has no server to take the call; try again shortly",
            **_job(),
        ),
        "async-method.json": _body(
            "Async Job Call request error: method not allowed", path=_text("path")
        ),
        "400.json": _body("Bad request: malformed request, or headers too large"),
        "408.json": _body("Request timeout: the request was not received in time"),
        "500.json": _body("Internal gateway error"),
        "502.json": _body(
            f"Bad gateway: job {FAMILY} v{VERSION} closed the connection or answered "
            "something that is not HTTP (it may have died)",
            **_job(),
        ),
        "503.json": _body(
            f"Service unavailable: no server of job {FAMILY} v{VERSION} can take the call",
            **_job(),
        ),
        "504.json": _body(
            f"Gateway timeout: job {FAMILY} v{VERSION} did not answer in time", **_job()
        ),
    }


#: Statuses HAProxy may answer by itself; each gets its JSON body with ``http-error``.
HTTP_ERRORS = (400, 408, 500, 502, 503, 504)
