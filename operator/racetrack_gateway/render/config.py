"""haproxy.cfg: one frontend that authenticates, authorises and routes every call from the
lookup tables, and a fixed set of backends the job versions' servers are spread over.

A call is checked in this order (each refusal is JSON, see ``answers``):

1. The gateway's own ``/live``, ``/ready`` (200 only once the agent has filled the tables)
   and ``/health`` (backend ``gateway_self``).
2. A request id: the tracing header, or a new UUID; returned on every answer.
3. Only ``/pub/job/<family>/<version>/<path>`` is served (404); paths with ``//``, ``/./``,
   ``/../``, backslashes or encoded slashes, dots, backslashes or NULs are refused (400)
   before anything compares them with a permission: HAProxy 2.6 cannot normalise a path
   safely, and a job would decode them.
4. While a Maintenance blocks calls: 503 with its text.
5. The family and version are looked up in ``versions``: 404 for an unknown family or
   version, before authentication (the original's order).
6. Public endpoints (the Job's ``publicEndpoints``, and ``/health``, ``/live``, ``/ready``)
   need no token; otherwise the token's sha256 must be in ``tokens`` (401) and one of the
   permission lookups must hit (403, see ``render.permissions``).
7. A known version that is not serving: 503.
8. The call goes to ``/pub/job/<family>/<resolved version><path>`` on the version's server,
   with the caller in the caller header, the request id, and no token headers: the job
   never sees the caller's token. Bodies stream both ways. A call whose job hangs up without
   answering is sent once more only if it may be replayed (``REPLAYABLE``): a GET, say, or
   a POST with an idempotency key, never any other POST.

Every rule of the frontend runs on every call, and each costs CPU, so the frontend does as
little as it can: it sets the variables the checks read, and one rule tells whether any
check fails. A call that passes goes on with no other rule; one that fails goes to the
``refusals`` backend, which runs the checks in the order above to tell which one and answer
it.

Asynchronous calls take the same way: ``/pub/async/new/job/...`` (GET or POST) is read as
``/pub/job/...`` and checked by steps 3-7 alike, then goes, with the version's backend and
server in two headers, to the agent (``racetrack_gateway.asynccalls``) over a unix socket.
The agent answers 201 with a task id and makes the call later through the ``async_replay``
frontend, on another unix socket, which routes by those headers alone: it is reachable only
from the run directory, never from the network. ``/pub/async/task/<id>/poll`` and
``/status`` need no token (the task id is the secret) and go to the agent as they are.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path

from racetrack_gateway.render import answers, keys, permissions, tables

TOKEN_HEADERS = ("X-Racetrack-Auth", "X-Racetrack-Esc-Auth", "X-Racetrack-User-Auth")
#: A poll of an asynchronous call's task (its id is the secret: no token).
TASK_PATH = "^/pub/async/task/[^/]+/(poll|status)$"
#: What a path may not contain (see step 3 above).
PATH_TRICKS = r"(//|/\.\.?(/|$)|\\|%2[eEfF]|%5[cC]|%00)"
#: HAProxy's pool-purge-delay for a job's server: every this many seconds it closes half of
#: the idle connections beyond what the server's recent calls needed. A lone idle connection
#: thus lives up to three periods, and after a burst of many at once a few more. The job
#: runtime keeps idle connections 75 s, longer than most live here but not all; the retry of
#: an empty response (see _defaults) covers a job closing one as HAProxy reuses it.
POOL_PURGE_SECONDS = 30
#: A call that may be sent again after its job closed the connection without answering: the
#: methods Go's http.Transport replays (so did the original's gateway), or a call that says
#: it is idempotent. Any other (a POST to ``/api/v1/perform``) may have run in a job that died
#: before answering, and must not run twice: it gets 502. Also cheaper: a call that may be
#: retried is first copied whole, one HAProxy buffer.
REPLAYABLE = (
    "{ method GET HEAD OPTIONS TRACE } || { req.fhdr(idempotency-key) -m found } "
    "|| { req.fhdr(x-idempotency-key) -m found }"
)
#: Headers naming the backend and server of an asynchronous call's version (to the agent,
#: and from it to ``async_replay``); a client's own are removed.
ASYNC_BACKEND_HEADER = "X-Racetrack-Async-Backend"
ASYNC_SERVER_HEADER = "X-Racetrack-Async-Server"


@dataclasses.dataclass(frozen=True)
class ConfigInput:
    run_dir: Path
    bind: tuple[str, ...]
    buckets: int
    threads: int = 0
    #: HAProxy's tune.bufsize (see the gateway's settings for what it trades).
    buffer_bytes: int = 16384
    access_log: bool = True
    tracing_header: str = "X-Request-Tracing-Id"
    caller_header: str = "X-Caller-Name"
    server_timeout_seconds: int = 330
    #: The longest an asynchronous call may take (the original's client timeout: 2 hours).
    async_timeout_seconds: int = 7200
    #: server name -> "backend address", the servers present at start.
    servers: Mapping[str, str] = dataclasses.field(default_factory=dict)

    def map_path(self, table: str) -> str:
        return str(self.run_dir / f"{table}.map")

    def answer(self, name: str) -> str:
        return str(self.run_dir / "answers" / name)

    @property
    def socket(self) -> str:
        return str(self.run_dir / "haproxy.sock")

    @property
    def async_socket(self) -> str:
        """Where the agent takes asynchronous calls and polls from HAProxy."""
        return str(self.run_dir / "async.sock")

    @property
    def replay_socket(self) -> str:
        """Where HAProxy takes the agent's asynchronous calls to job versions."""
        return str(self.run_dir / "replay.sock")


def server_params(address: str) -> str:
    """A job version's server: weight 0, so load balancing never picks it; only the
    ``use-server`` rule does, and a server it does not find means 503, never another job."""
    return f"{address} weight 0 pool-purge-delay {POOL_PURGE_SECONDS}s"


def server_line(name: str, address: str) -> str:
    return f"{name} {server_params(address)}"


def render_config(cfg: ConfigInput) -> str:
    lines = [*_global(cfg), "", *_defaults(cfg), "", *_frontend(cfg), "", *_replay(cfg), ""]
    lines += [*_gateway_self(cfg), "", *_refusals(cfg), ""]
    by_backend: dict[str, list[str]] = {}
    for name, value in sorted(cfg.servers.items()):
        backend, address = value.split(" ", 1)
        by_backend.setdefault(backend, []).append(server_line(name, address))
    for backend in keys.backends(cfg.buckets):
        lines += [
            f"backend {backend}",
            # A replayed asynchronous call may take longer than a call (see _replay).
            f"    http-request set-timeout server {cfg.async_timeout_seconds}s "
            "if { var(txn.replay) -m bool }",
            f"    http-request set-var(txn.replayable) bool(1) if {REPLAYABLE}",
            # HAProxy can send a request again only if it held all of it when it first sent it.
            "    http-request wait-for-body time 1s if { var(txn.replayable) -m bool }",
            "    http-request disable-l7-retry unless { var(txn.replayable) -m bool }",
            "    use-server %[var(txn.server)] if TRUE",
            *(f"    server {line}" for line in by_backend.get(backend, [])),
            "",
        ]
    lines += [
        "backend unrouted",
        f"    http-request return status 503 content-type application/json "
        f"lf-file {cfg.answer('no-server.json')}",
        "",
        "backend async_calls",
        f"    server agent unix@{cfg.async_socket}",
        "",
    ]
    return "\n".join(lines)


def render_files(cfg: ConfigInput, entries: tables.Entries) -> dict[str, str]:
    """Every file HAProxy reads at start, by path relative to the run directory."""
    files = {"haproxy.cfg": render_config(cfg)}
    state_map = cfg.map_path(tables.STATE)
    for name, body in answers.answers(TOKEN_HEADERS[0], state_map).items():
        files[f"answers/{name}"] = body
    for table in tables.MAPS:
        files[f"{table}.map"] = "".join(
            f"{key} {value}\n" for key, value in sorted(entries[table].items())
        )
    return files


def _global(cfg: ConfigInput) -> list[str]:
    out = [
        "global",
        f"    stats socket {cfg.socket} mode 600 level admin",
        "    stats timeout 2m",
        # A stopping HAProxy (soft stop) finishes its calls, but not forever.
        "    hard-stop-after 30s",
    ]
    if cfg.threads:
        out.append(f"    nbthread {cfg.threads}")
    out.append(f"    tune.bufsize {cfg.buffer_bytes}")
    if cfg.access_log:
        out.append("    log stdout format raw local0 info")
    return out


def _defaults(cfg: ConfigInput) -> list[str]:
    out = [
        "defaults",
        "    mode http",
        "    timeout connect 5s",
        "    timeout client 60s",
        f"    timeout server {cfg.server_timeout_seconds}s",
        "    timeout http-request 10s",
        "    timeout http-keep-alive 60s",
        "    timeout queue 10s",
        "    balance roundrobin",
        "    option forwardfor",
        # A job may close an idle connection just as it is reused: try again, on a new one
        # (after an empty response, only a call that may be replayed: see REPLAYABLE).
        "    retries 2",
        "    retry-on conn-failure empty-response",
    ]
    if cfg.access_log:
        out += [
            "    log global",
            "    option dontlognull",
            # Never a header: tokens stay out of the logs.
            '    log-format "%ci:%cp [%tr] %ft %b/%s %TR/%Tw/%Tc/%Tr/%Ta %ST %B %tsc '
            '%{+Q,+E}[var(txn.rid)] %{+Q,+E}[var(txn.caller)] %{+Q,+E}r"',
        ]
    for status in answers.HTTP_ERRORS:
        out.append(
            f"    http-error status {status} content-type application/json "
            f"lf-file {cfg.answer(f'{status}.json')}"
        )
    return out


#: The request variable holding each field of a permission lookup (``permissions.LOOKUPS``).
_LOOKUP_VARIABLES = {
    "subject": "subject",
    "namespace": "ns",
    "family": "fam",
    "version": "ver",
    "endpoint": "ep",
}


def _lookup_sample(fields: tuple[str, ...]) -> str:
    """A permission lookup as one sample expression: the first field's variable, then each
    next one appended with ``concat`` (a field that is no variable is a literal)."""
    first, *rest = fields
    expression, literal = f"var(txn.{_LOOKUP_VARIABLES[first]})", ""
    for field in rest:
        if field not in _LOOKUP_VARIABLES:
            literal += f"|{field}"
            continue
        expression += f",concat({literal}|,txn.{_LOOKUP_VARIABLES[field]})"
        literal = ""
    return expression


def _access_acls(cfg: ConfigInput) -> list[str]:
    """``public`` (open without a token) and ``grantedN`` (permission lookup N hits), for
    the frontend's decision and the refusals' reasons alike."""
    lines = [
        "    acl public var(txn.fam),concat(|,txn.ver),concat(|,txn.ep),"
        f"map_beg({cfg.map_path(tables.PUBLIC)}) -m found",
        "    acl public var(txn.ep) -m str /health/ /live/ /ready/",
    ]
    for number, fields in enumerate(permissions.LOOKUPS, start=1):
        lines.append(
            f"    acl granted{number} {_lookup_sample(fields)},"
            f"map_beg({cfg.map_path(tables.PERMS)}) -m found"
        )
    return lines


def _not_allowed() -> str:
    """Granted by no lookup, and not public (the terms of an ACL condition stop at the first
    that fails: a caller's grant is found before the public endpoints are looked at)."""
    granted = " ".join(f"!granted{n}" for n in range(1, len(permissions.LOOKUPS) + 1))
    return f"{granted} !public"


def _frontend(cfg: ConfigInput) -> list[str]:
    """Every request sets the variables the checks read, then one rule tells whether any
    check fails: a call that passes them all meets no other rule (these run on every call,
    so there are as few as can be); one that fails goes to ``refusals``, which tells which
    check it failed and answers it."""
    state, versions = cfg.map_path(tables.STATE), cfg.map_path(tables.VERSIONS)
    trace = cfg.tracing_header
    token = TOKEN_HEADERS[0].lower()
    lines = ["frontend gateway"]
    lines += [f"    bind {listener}" for listener in cfg.bind]
    lines += [
        # The request id.
        f"    http-request set-header {trace} %[uuid()] unless {{ req.fhdr({trace}) -m len 1: }}",
        f"    http-request set-var(txn.rid) req.fhdr({trace})",
        f"    http-after-response set-header {trace} %[var(txn.rid)] "
        "if { var(txn.rid) -m found }",
        # An asynchronous call is read as the call it starts; polling a task needs no check.
        "    http-request set-var(txn.task) bool(1) if { path_beg /pub/async/task/ } "
        f"{{ path_reg {TASK_PATH} }} !{{ path -m reg '{PATH_TRICKS}' }}",
        "    acl task var(txn.task) -m bool",
        "    http-request set-var(txn.async) bool(1) if { path_beg /pub/async/new/job/ }",
        "    acl async var(txn.async) -m bool",
        _answer(
            405,
            f'lf-file {cfg.answer("async-method.json")} hdr Allow "GET, POST"',
            "if async !METH_GET !METH_POST",
        ),
        '    http-request set-path "%[path,regsub(^/pub/async/new/job/,/pub/job/)]" if async',
        # The route.
        "    http-request set-var(txn.fam) path,field(4,/)",
        "    http-request set-var(txn.req) path,field(5,/)",
        "    http-request set-var(txn.rest) path,regsub(^/pub/job/[^/]*/[^/]*,)",
        f"    http-request set-var(txn.route) var(txn.fam),concat(/,txn.req),map({versions})",
        "    http-request set-var(txn.ns) var(txn.route),field(2,|)",
        "    http-request set-var(txn.ver) var(txn.route),field(3,|)",
        "    http-request set-var(txn.server) var(txn.route),field(5,|)",
        "    http-request set-var(txn.ep) var(txn.rest),regsub(/$,),concat(/)",
    ]
    # The caller: the first token header present counts, valid or not.
    for index, header in enumerate(TOKEN_HEADERS):
        name = header.lower()
        first_only = "!{ var(txn.hash) -m found } " if index else ""
        lines.append(
            f"    http-request set-var(txn.hash) req.fhdr({name}),sha2(256),hex,lower "
            f"if {first_only}{{ req.fhdr({name}) -m len 1: }}"
        )
    lines += [
        f"    http-request set-var(txn.subject) var(txn.hash),map({cfg.map_path(tables.TOKENS)})",
        "    http-request set-var(txn.caller) "
        f"var(txn.subject),map({cfg.map_path(tables.CALLERS)})",
        *_access_acls(cfg),
        # The decision: refused if any check fails, in the cheapest order.
        "    http-request set-var(txn.refused) bool(1) if "
        + " || ".join(
            [
                "!{ path_beg /pub/job/ }",
                f"!{{ var(txn.route) -m beg {tables.SERVING}| }}",
                f"{{ str({tables.MAINTENANCE_KEY}),map({state}) -m found }}",
                f"{{ req.fhdr_cnt({token}) gt 1 }}",
                f"{{ path -m reg '{PATH_TRICKS}' }}",
                _not_allowed(),
            ]
        ),
        "    acl refused var(txn.refused) -m bool",
        # The job sees the resolved version, who calls, and no token.
        '    http-request set-path "/pub/job/%[var(txn.fam)]/%[var(txn.ver)]%[var(txn.rest)]" '
        "if !refused",
        f"    http-request del-header {ASYNC_BACKEND_HEADER}",
        f"    http-request del-header {ASYNC_SERVER_HEADER}",
        f"    http-request set-header {ASYNC_BACKEND_HEADER} %[var(txn.route),field(4,|)] "
        "if async !refused",
        f"    http-request set-header {ASYNC_SERVER_HEADER} %[var(txn.server)] if async !refused",
        # (A refused call keeps them for ``refusals`` to count; a poll loses them too.)
        *(f"    http-request del-header {header} unless refused !task" for header in TOKEN_HEADERS),
        f"    http-request del-header {cfg.caller_header}",
        f"    http-request add-header {cfg.caller_header} %[var(txn.caller)] "
        "if { var(txn.caller) -m found }",
        "    use_backend gateway_self if { path -m str /live /ready /health }",
        "    use_backend async_calls if task",
        "    use_backend refusals if refused",
        "    use_backend async_calls if async",
        "    use_backend %[var(txn.route),field(4,|)]",
        "    default_backend unrouted",
    ]
    return lines


def _answer(status: int, body: str, condition: str) -> str:
    """An answer of the gateway's own: JSON, its ``body`` a ``string`` or an ``lf-file``."""
    return (
        f"    http-request return status {status} content-type application/json {body} {condition}"
    )


def _gateway_self(cfg: ConfigInput) -> list[str]:
    """The gateway's own ``/live``, ``/ready`` (200 once the tables are complete) and
    ``/health``."""
    state = cfg.map_path(tables.STATE)

    def json(status: int, body: str, condition: str) -> str:
        return _answer(status, f"string '{body}'", condition)

    return [
        "backend gateway_self",
        json(200, '{"live": true}', "if { path /live }"),
        json(
            200, '{"ready": true}', f"if {{ path /ready }} {{ str(ready),map({state}) -m found }}"
        ),
        json(503, '{"ready": false}', "if { path /ready }"),
        json(200, '{"service": "pub", "status": "pass"}', "if { path /health }"),
    ]


def _refusals(cfg: ConfigInput) -> list[str]:
    """Why a call was refused, the checks in the original's order (404 for an unknown family
    or version before authentication), each with its answer."""
    state, versions = cfg.map_path(tables.STATE), cfg.map_path(tables.VERSIONS)
    token = TOKEN_HEADERS[0].lower()

    def refuse(status: int, answer: str, condition: str) -> str:
        return _answer(status, f"lf-file {cfg.answer(answer)}", condition)

    return [
        "backend refusals",
        *_access_acls(cfg),
        "    acl routed var(txn.route) -m found",
        # A task's path with tricks in its id is no route, but a bad path (as any call's).
        refuse(
            404, "not-a-route.json", f"if !{{ path_beg /pub/job/ }} !{{ path_reg {TASK_PATH} }}"
        ),
        refuse(400, "bad-path.json", f"if {{ path -m reg '{PATH_TRICKS}' }}"),
        refuse(404, "not-a-route.json", "if !{ var(txn.fam) -m len 1: }"),
        refuse(404, "not-a-route.json", "if !{ var(txn.req) -m len 1: }"),
        refuse(400, "many-tokens.json", f"if {{ req.fhdr_cnt({token}) gt 1 }}"),
        refuse(
            503,
            "maintenance.json",
            f"if {{ str({tables.MAINTENANCE_KEY}),map({state}) -m found }}",
        ),
        refuse(404, "no-family.json", f"if !routed !{{ var(txn.fam),map({versions}) -m found }}"),
        refuse(
            404,
            "no-alias.json",
            "if !routed { var(txn.req) -m reg '^(latest|[0-9.x]*x[0-9.x]*)$' }",
        ),
        refuse(404, "no-version.json", "if !routed"),
        refuse(401, "no-token.json", "if !public !{ var(txn.hash) -m found }"),
        refuse(401, "bad-token.json", "if !public !{ var(txn.subject) -m found }"),
        refuse(403, "forbidden.json", f"if {_not_allowed()}"),
        refuse(503, "not-serving.json", f"if !{{ var(txn.route) -m beg {tables.SERVING}| }}"),
    ]


def _replay(cfg: ConfigInput) -> list[str]:
    """The agent's way to a job version for an asynchronous call: the version checked and
    resolved when the call was started, named by the two headers."""
    return [
        "frontend async_replay",
        f"    bind unix@{cfg.replay_socket} mode 600",
        "    http-request set-var(txn.replay) bool(1)",
        f"    http-request set-var(txn.rid) req.fhdr({cfg.tracing_header})",
        f"    http-request set-var(txn.backend) req.fhdr({ASYNC_BACKEND_HEADER})",
        f"    http-request set-var(txn.server) req.fhdr({ASYNC_SERVER_HEADER})",
        f"    http-request del-header {ASYNC_BACKEND_HEADER}",
        f"    http-request del-header {ASYNC_SERVER_HEADER}",
        "    use_backend %[var(txn.backend)]",
        "    default_backend unrouted",
    ]
