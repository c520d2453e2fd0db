"""``racetrack call NAME [VERSION] '{json}'``: call a job through the gateway and print its
answer, as any caller would (the gateway checks the token and the caller's permissions).

The gateway is ``--gateway``, else ``$RACETRACK_GATEWAY``, else the running dev cluster's;
the token ``--token``, else ``$RACETRACK_AUTH_TOKEN`` (none is sent without one: public
endpoints need none). VERSION defaults to ``latest``, which the gateway resolves.

Exit codes: 0 the job answered 2xx (its body is printed); 1 it answered otherwise or could
not be reached (the status and body go to stderr); 2 the command line is wrong.
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.request
from typing import Any

from racetrack_cli import endpoints

TOKEN_HEADER = "X-Racetrack-Auth"


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "call",
        help="call a job's endpoint through the gateway and print the answer",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("name", metavar="NAME", help="the job's name")
    parser.add_argument(
        "rest", nargs="+", metavar="[VERSION] PAYLOAD",
        help="the version (default: latest) and the JSON body",
    )  # fmt: skip
    parser.add_argument(
        "--endpoint", default="/api/v1/perform", help="path (default: /api/v1/perform)"
    )
    parser.add_argument("--gateway", help=f"gateway URL (default: ${endpoints.GATEWAY_ENV})")
    parser.add_argument("--token", help=f"caller token (default: ${endpoints.TOKEN_ENV})")
    parser.add_argument("--timeout", type=float, default=300, help="seconds (default: 300)")
    parser.set_defaults(handler=_main)


def _main(args: argparse.Namespace) -> int:
    if len(args.rest) > 2:
        print("racetrack call: give NAME [VERSION] PAYLOAD", file=sys.stderr)
        return 2
    version, payload = ("latest", *args.rest) if len(args.rest) == 1 else args.rest
    try:
        body = json.loads(payload)
    except ValueError as error:
        print(f"racetrack call: the payload is not JSON: {error}", file=sys.stderr)
        return 2
    gateway = endpoints.gateway(args.gateway)
    if not gateway:
        print(
            f"racetrack call: give --gateway (or set {endpoints.GATEWAY_ENV}), the gateway's URL",
            file=sys.stderr,
        )
        return 2
    endpoint = args.endpoint if args.endpoint.startswith("/") else "/" + args.endpoint
    url = endpoints.job_url(gateway, args.name, version, endpoint)
    status, text = post(url, body, endpoints.token(args.token), args.timeout)
    if status is None:
        print(f"racetrack call: cannot reach {url}: {text}", file=sys.stderr)
        return 1
    if not 200 <= status < 300:
        print(f"racetrack call: HTTP {status} from {url}: {text.strip()}", file=sys.stderr)
        return 1
    sys.stdout.write(text if text.endswith("\n") else text + "\n")
    return 0


def post(url: str, body: Any, token: str, timeout: float) -> tuple[int | None, str]:
    """(status, body); status None when nothing answered (the body says why)."""
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if token:
        headers[TOKEN_HEADER] = token
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers=headers, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return int(response.status), response.read().decode(errors="replace")
    except urllib.error.HTTPError as error:
        return int(error.code), error.read().decode(errors="replace")
    except (urllib.error.URLError, OSError) as error:
        return None, str(getattr(error, "reason", error))
