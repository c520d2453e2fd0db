"""Every answer of the data plane, over real HTTP through a real HAProxy.

Each refusal is JSON with the request id (also in the tracing header) and is never passed
to the job: the echo upstream counts what reached it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import socket
import uuid

import httpx
import pytest
from gateway_scene import ALICE, BOB, CHAIN, KEY, PORTAL, Scene  # type: ignore[import-not-found]

from gateway_harness import Echo, HAProxy  # type: ignore[import-not-found]
from racetrack_api import tokens
from racetrack_api.permissions import SubjectRef
from racetrack_gateway.model import Caller

PERFORM = "/pub/job/echo/1.0.0/api/v1/perform"
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def call(gateway: HAProxy, path: str, token: str | None = None, **headers: str) -> httpx.Response:
    if token is not None:
        headers["X-Racetrack-Auth"] = token
    response: httpx.Response = gateway.client.post(path, content=b'{"a": 1}', headers=headers)
    return response


def refused(response: httpx.Response, status: int, words: str) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = json.loads(response.text)
    assert words in body["error"], body
    assert body["requestId"] == response.headers["x-request-tracing-id"]
    return dict(body)


def test_a_permitted_call_reaches_the_job_at_the_resolved_version(
    gateway: HAProxy, world: Scene, echo: Echo
) -> None:
    answer = call(gateway, "/pub/job/echo/latest/api/v1/perform?x=1", world.tokens[ALICE])
    assert answer.status_code == 200
    seen = answer.json()
    assert seen["path"] == "/pub/job/echo/1.0.0/api/v1/perform?x=1"
    assert seen["headers"]["x-caller-name"] == "User alice"
    assert "x-racetrack-auth" not in seen["headers"]  # the job never sees a caller's token
    assert seen["headers"]["x-request-tracing-id"] == answer.headers["x-request-tracing-id"]
    assert UUID.match(answer.headers["x-request-tracing-id"])


@pytest.mark.parametrize(
    ("requested", "resolved"),
    [("1.0.0", "1.0.0"), ("latest", "1.0.0"), ("x", "1.0.0"), ("1.x", "1.0.0"),
     ("1.0.x", "1.0.0"), ("x.0.0", "1.0.0"), ("2.0.0-rc.1", "2.0.0-rc.1")],
)  # fmt: skip
def test_exact_latest_and_wildcard_versions_resolve_to_the_highest_serving_stable_one(
    gateway: HAProxy, world: Scene, requested: str, resolved: str
) -> None:
    # echo serves 1.0.0 and 2.0.0-rc.1; 1.1.0 exists but does not serve.
    answer = call(gateway, f"/pub/job/echo/{requested}/x", world.tokens[ALICE])
    assert answer.status_code == 200, answer.text
    assert answer.json()["path"] == f"/pub/job/echo/{resolved}/x"


def test_a_wildcard_that_only_a_pre_release_or_a_version_not_serving_matches_is_404(
    gateway: HAProxy, world: Scene
) -> None:
    for requested in ("2.x", "1.1.x"):
        refused(call(gateway, f"/pub/job/echo/{requested}/x", world.tokens[ALICE]), 404, requested)


def test_a_real_job_runtime_answers_through_the_gateway(gateway: HAProxy, world: Scene) -> None:
    answer = gateway.client.post(
        "/pub/job/adder/1.x/api/v1/perform",
        json={"a": 40, "b": 2},
        headers={"X-Racetrack-Auth": world.tokens[ALICE], "X-Request-Tracing-Id": "trace-me"},
    )
    assert (answer.status_code, answer.json()) == (200, 42)
    assert answer.headers["x-request-tracing-id"] == "trace-me"


@pytest.mark.parametrize(
    ("subject", "name"),
    [(PORTAL, "ESC portal"), (CHAIN, "Job family chain"), (ALICE, "User alice")],
)
def test_each_kind_of_caller_is_named_for_the_job_whatever_the_client_claims(
    gateway: HAProxy, world: Scene, subject: SubjectRef, name: str
) -> None:
    answer = call(gateway, PERFORM, world.tokens[subject], **{"X-Caller-Name": "User root"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["headers"]["x-caller-name"] == name


def test_the_other_token_headers_of_the_original_work_too(gateway: HAProxy, world: Scene) -> None:
    for header in ("X-Racetrack-Esc-Auth", "X-Racetrack-User-Auth"):
        answer = gateway.client.post(PERFORM, headers={header: world.tokens[PORTAL]})
        assert answer.status_code == 200
        assert header.lower() not in answer.json()["headers"]


def test_an_escs_legacy_caller_token_calls_as_the_esc_while_its_hash_is_published(
    gateway: HAProxy, world: Scene
) -> None:
    jwt = world.tokens[PORTAL]
    legacy = tokens.legacy_esc_token("portal", tokens.decode(jwt, KEY).seed)
    refused(call(gateway, PERFORM, legacy), 401, "not valid")
    # What the operator publishes for an ESC: the hashes of both forms of its token.
    world.callers[PORTAL] = Caller(PORTAL, (tokens.token_hash(jwt), tokens.token_hash(legacy)))
    gateway.push(world.entries())
    for header in ("X-Racetrack-Auth", "X-Racetrack-Esc-Auth"):
        answer = gateway.client.post(PERFORM, headers={header: legacy})
        assert answer.status_code == 200, answer.text
        assert answer.json()["headers"]["x-caller-name"] == "ESC portal"


def bad_tokens(world: Scene) -> dict[str, str]:
    good = world.tokens[ALICE]
    header, payload, signature = good.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    forged = base64.urlsafe_b64encode(json.dumps({**claims, "subject": "bob"}).encode())
    return {
        "garbage": "not a token at all",
        "with spaces": "Bearer not a token",
        "truncated": good[:-5],
        "tampered": f"{header}.{forged.decode().rstrip('=')}.{signature}",
        "other key": tokens.issue("alice", "user", tokens.new_auth_key()),
        "old seed": tokens.issue("alice", "user", KEY),  # a newer issue than the published one
        "legacy base64": tokens.legacy_esc_token("portal", "wrong"),
        "huge": "x" * 8000,
        "non-ascii": "t\u00f6ken",  # sent as UTF-8 bytes
    }


def test_bad_tokens_are_401_and_never_reach_the_job(
    gateway: HAProxy, world: Scene, echo: Echo
) -> None:
    before = len(echo.requests)
    for kind, token in bad_tokens(world).items():
        answer = gateway.client.post(PERFORM, headers={"X-Racetrack-Auth": token.encode()})
        assert answer.status_code == 401, (kind, answer.text)
        refused(answer, 401, "not valid")
    refused(call(gateway, PERFORM), 401, "auth token not found in a header X-Racetrack-Auth")
    assert len(echo.requests) == before


def test_a_deleted_subject_and_a_rotated_token_stop_at_once(gateway: HAProxy, world: Scene) -> None:
    old = world.tokens[ALICE]
    new = tokens.issue("alice", "user", KEY)
    world.callers[ALICE] = world.callers[ALICE].__class__(ALICE, (tokens.token_hash(new),))
    gateway.push(world.entries())
    refused(call(gateway, PERFORM, old), 401, "not valid")
    assert call(gateway, PERFORM, new).status_code == 200
    del world.callers[PORTAL]
    gateway.push(world.entries())
    refused(call(gateway, PERFORM, world.tokens[PORTAL]), 401, "not valid")


def test_a_caller_without_permission_gets_403_naming_subject_scope_endpoint_and_job(
    gateway: HAProxy, world: Scene, echo: Echo
) -> None:
    before = len(echo.requests)
    body = refused(call(gateway, PERFORM, world.tokens[BOB]), 403, "no permission")
    assert body["error"] == (
        'no permission to do this operation: auth subject "User bob" does not have permission '
        'to access endpoint /api/v1/perform at resource "echo v1.0.0" with scope "call_job"'
    )
    assert (body["caller"], body["job"], body["version"]) == ("User bob", "echo", "1.0.0")
    # The ESC may call /api/v1/perform only; the family only 1.x versions.
    refused(call(gateway, "/pub/job/echo/1.0.0/api/v1/other", world.tokens[PORTAL]), 403, "ESC")
    refused(call(gateway, "/pub/job/echo/2.0.0-rc.1/x", world.tokens[CHAIN]), 403, "Job family")
    assert len(echo.requests) == before


def test_unknown_families_and_versions_are_404_before_any_token_is_asked_for(
    gateway: HAProxy,
) -> None:
    refused(call(gateway, "/pub/job/nope/1.0.0/api/v1/perform"), 404, "no job named nope")
    refused(call(gateway, "/pub/job/echo/9.9.9/api/v1/perform"), 404, "has no version 9.9.9")
    refused(call(gateway, "/pub/job/echo/3.x/api/v1/perform"), 404, "matches 3.x")
    refused(call(gateway, "/pub/job/echo"), 404, "/pub/job/<name>/<version>")
    refused(call(gateway, "/elsewhere"), 404, "/pub/job/<name>/<version>")


def test_a_version_that_is_not_serving_is_503_after_authorisation(
    gateway: HAProxy, world: Scene
) -> None:
    refused(call(gateway, "/pub/job/echo/1.1.0/api/v1/perform"), 401, "auth token")
    body = refused(call(gateway, "/pub/job/echo/1.1.0/x", world.tokens[ALICE]), 503, "not serving")
    assert body["version"] == "1.1.0"


def test_maintenance_blocks_every_call_with_the_original_words_and_its_message(
    gateway: HAProxy, world: Scene
) -> None:
    world.maintenance = 'Upgrade until 14:00 "UTC"'
    gateway.push(world.entries())
    body = refused(call(gateway, PERFORM, world.tokens[ALICE]), 503, "maintenance mode")
    assert body["error"] == (
        "Racetrack is currently in maintenance mode. Please try again later. "
        'Upgrade until 14:00 "UTC"'
    )
    refused(call(gateway, "/pub/job/echo/1.0.0/public"), 503, "maintenance mode")
    world.maintenance = None
    gateway.push(world.entries())
    assert call(gateway, PERFORM, world.tokens[ALICE]).status_code == 200


def test_public_endpoints_and_probes_need_no_token(gateway: HAProxy) -> None:
    for path in ("/public", "/public/", "/public/sub", "/health", "/live", "/ready"):
        answer = call(gateway, f"/pub/job/echo/1.0.0{path}", **{"X-Caller-Name": "User root"})
        assert answer.status_code == 200, (path, answer.text)
        assert "x-caller-name" not in answer.json()["headers"]
    refused(call(gateway, "/pub/job/echo/1.0.0/publicity"), 401, "auth token")
    refused(call(gateway, "/pub/job/echo/2.0.0-rc.1/public"), 401, "auth token")  # that version's


def raw(gateway: HAProxy, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", gateway.port), timeout=10) as sock:
        sock.sendall(request)
        out = b""
        while chunk := sock.recv(65536):
            out += chunk
    return out


@pytest.mark.parametrize(
    "path",
    [
        "/pub/job/echo/1.0.0//api/v1/perform",
        "/pub/job/echo/1.0.0/public/../api/v1/perform",
        "/pub/job/echo/1.0.0/public/./x",
        "/pub/job/echo/1.0.0/public/..",
        "/pub/job/echo/1.0.0/public%2F..%2Fapi",
        "/pub/job/echo/1.0.0/public/%2e%2e/api",
        "/pub/job/echo/1.0.0/public/%2E%2E/api",
        "/pub/job/echo/1.0.0/public\\..\\api",
        "/pub/job/echo/1.0.0/public/%5c..",
        "/pub/job/echo/1.0.0/public%00",
        "/pub/async/new/job/echo/1.0.0/public/../api/v1/perform",
        "/pub/async/task/%2e%2e/poll",
    ],
)
def test_path_tricks_are_refused_before_any_permission_is_compared(
    gateway: HAProxy, world: Scene, echo: Echo, path: str
) -> None:
    before = len(echo.requests)
    # Sent as written: HTTP clients would resolve the dots themselves.
    token = world.tokens[ALICE].encode()
    answer = raw(
        gateway,
        b"GET "
        + path.encode()
        + b" HTTP/1.1\r\nHost: g\r\nX-Racetrack-Auth: "
        + token
        + b"\r\nConnection: close\r\n\r\n",
    )
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 "), answer[:300]
    assert b"the path must not contain" in body
    assert len(echo.requests) == before


def test_crlf_tricks_and_oversized_headers_are_400_and_never_proxied(
    gateway: HAProxy, world: Scene, echo: Echo
) -> None:
    before = len(echo.requests)
    token = world.tokens[ALICE].encode()
    requests = [
        b"POST "
        + PERFORM.encode()
        + b" HTTP/1.1\r\nHost: g\r\nX-Racetrack-Auth: "
        + token
        + b"\rX-Caller-Name: User root\r\nConnection: close\r\n\r\n",
        b"POST "
        + PERFORM.encode()
        + b" HTTP/1.1\r\nHost: g\r\nX-Racetrack-Auth: "
        + token
        + b"\r\nX-Big: "
        + b"a" * 70000
        + b"\r\nConnection: close\r\n\r\n",
        b"POST " + PERFORM.encode() + b"\r\n HTTP/1.1\r\nHost: g\r\nConnection: close\r\n\r\n",
        b"POST "
        + PERFORM.encode()
        + b" HTTP/1.1\r\nHost: g\r\nX-Racetrack-Auth: "
        + token
        + b"\r\nX-Racetrack-Auth: "
        + token
        + b"\r\nConnection: close\r\n\r\n",
    ]
    for request in requests:
        assert raw(gateway, request).startswith(b"HTTP/1.1 400 "), request[:120]
    assert len(echo.requests) == before


def test_headers_of_12_kb_are_proxied_and_more_than_the_buffer_holds_is_400(
    gateway: HAProxy, world: Scene, echo: Echo
) -> None:
    # HAProxy's buffers are 16 KB (RACETRACK_GATEWAY_HAPROXY_BUFFER_BYTES), less 1 KB kept
    # for rewriting: room for large cookies and tokens, not for anything.
    token = world.tokens[ALICE]
    assert call(gateway, PERFORM, token, **{"X-Big": "a" * 12000}).status_code == 200
    before = len(echo.requests)
    assert call(gateway, PERFORM, token, **{"X-Big": "a" * 17000}).status_code == 400
    assert len(echo.requests) == before


@pytest.mark.parametrize(
    ("method", "headers", "retried"),
    [
        ("GET", {}, True),
        ("OPTIONS", {}, True),
        ("POST", {}, False),
        ("PUT", {}, False),
        ("POST", {"Idempotency-Key": "order-7"}, True),
        ("POST", {"X-Idempotency-Key": "order-7"}, True),
    ],
)
def test_a_job_that_hangs_up_without_answering_gets_the_call_again_only_if_it_may_be_replayed(
    gateway: HAProxy, world: Scene, echo: Echo, method: str, headers: dict[str, str], retried: bool
) -> None:
    # A replayable call is sent once more on a new connection (the job may have closed an idle
    # one as HAProxy reused it); any other may have run in a job that died, and must not run
    # twice: the caller gets 502 and decides.
    key = f"{method}-{uuid.uuid4()}"
    answer = gateway.client.request(
        method,
        PERFORM,
        content=b'{"a": 1}' if method in ("POST", "PUT") else None,
        headers={"X-Racetrack-Auth": world.tokens[ALICE], "X-Echo-Hang-Up": key, **headers},
    )
    reached = [seen for seen in echo.requests if seen["headers"].get("x-echo-hang-up") == key]
    if retried:
        assert answer.status_code == 200, answer.text
        assert answer.json()["method"] == method
        assert len(reached) == 2
    else:
        refused(answer, 502, "closed the connection")
        assert len(reached) == 1


def test_a_tracing_id_is_passed_on_and_returned_even_with_quotes(gateway: HAProxy) -> None:
    trace = f'my "id" {uuid.uuid4()}'
    body = refused(call(gateway, PERFORM, **{"X-Request-Tracing-Id": trace}), 401, "auth token")
    assert body["requestId"] == trace


def test_bodies_stream_both_ways(gateway: HAProxy, world: Scene) -> None:
    megabyte = bytes(range(256)) * 4096
    answer = gateway.client.post(
        PERFORM, content=megabyte, headers={"X-Racetrack-Auth": world.tokens[ALICE]}
    )
    assert answer.json()["body_sha256"] == hashlib.sha256(megabyte).hexdigest()
    big = gateway.client.get(
        PERFORM, headers={"X-Racetrack-Auth": world.tokens[ALICE], "X-Echo-Bytes": "1048576"}
    )
    assert (big.status_code, len(big.content)) == (200, 1048576)


def test_tokens_never_appear_in_the_access_log(gateway: HAProxy, world: Scene) -> None:
    for token in world.tokens.values():
        call(gateway, PERFORM, token)
    call(gateway, PERFORM, "a-wrong-token-value")
    log = gateway.log()
    assert "POST /pub/job/echo/1.0.0/api/v1/perform" in log
    for token in [*world.tokens.values(), "a-wrong-token-value"]:
        assert token not in log
        assert tokens.token_hash(token) not in log
