"""The original wrapper's API as job code meets it, on a real process over real HTTP:
``request_context``, chain-call errors, ``auxiliary_endpoints_v2`` in FastAPI's shapes, CORS.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pytest imports conftest itself; this import is for type checkers only
    from tests.runtime.conftest import RunningJob, StartJob, StartServer

STANDIN = str(Path(__file__).with_name("gateway_standin.py"))


def start_compat(start_job: StartJob, env: dict[str, str] | None = None) -> RunningJob:
    job = start_job("compat.py", {"JOB_NAME": "compat", "JOB_VERSION": "2.0.0", **(env or {})})
    job.wait_for("/ready", 200)
    return job


def test_request_context_and_extra_are_per_call(start_job: StartJob) -> None:
    job = start_compat(start_job)
    headers = {"X-Caller-Name": "User carol", "X-Request-Tracing-Id": "trace-ctx"}
    answer = job.client.post(
        "/pub/job/compat/2.0.0/api/v1/perform", json={"note": "a"}, headers=headers
    ).json()
    assert answer == {
        "path": "/pub/job/compat/2.0.0/api/v1/perform",
        "caller": "User carol",
        "tracing_id": "trace-ctx",
        "extra_before": {},
        "extra_after": {"note": "a"},
    }
    # request_extra starts empty again on the next call; a generated tracing id is visible.
    second = job.client.post("/api/v1/perform", json={"note": "b"}).json()
    assert second["extra_before"] == {}
    assert second["caller"] is None
    assert len(second["tracing_id"]) == 36


def test_chain_call_errors_name_the_job_and_the_cause(
    start_job: StartJob, start_server: StartServer
) -> None:
    unset = start_compat(start_job, {"PUB_URL": "", "AUTH_TOKEN": ""})
    no_url = unset.client.post("/api/v1/call", json={"job": "adder"})
    assert (no_url.status_code, no_url.json()["type"]) == (500, "RuntimeError")
    assert no_url.json()["error"] == (
        'failed to call job "adder latest" by compat: '
        "PUB_URL is not set: the job does not know the gateway's address"
    )

    target = start_compat(start_job)
    gateway = start_server([sys.executable, STANDIN, "{port}"], env={"STANDIN_TARGET": target.url})
    no_token = start_compat(start_job, {"PUB_URL": f"{gateway.url}/pub", "AUTH_TOKEN": ""})
    refused = no_token.client.post("/api/v1/call", json={"job": "adder"}).json()["error"]
    assert refused.endswith("AUTH_TOKEN is not set: the job has no token to call other jobs with")

    caller = start_compat(start_job, {"PUB_URL": f"{gateway.url}/pub", "AUTH_TOKEN": "t0ken"})
    chained = caller.client.post(
        "/api/v1/call", json={"job": "compat", "version": "2.x"}, headers={"X-Caller-Name": "x"}
    )
    assert chained.status_code == 200
    assert chained.json()["path"] == "/pub/job/compat/2.x/api/v1/perform"
    assert chained.json()["caller"] == "x"
    missing = caller.client.post(
        "/api/v1/call", json={"job": "compat", "path": "/api/v1/nothing"}
    ).json()["error"]
    assert missing.startswith('failed to call job "compat latest" by compat: HTTP 404 from ')
    assert '"type":"NotFound"' in missing
    gateway.stop()
    down = caller.client.post("/api/v1/call", json={"job": "compat"}).json()["error"]
    assert "cannot reach http://127.0.0.1:" in down


def test_auxiliary_endpoints_v2_in_fastapi_shapes(start_job: StartJob) -> None:
    c = start_compat(start_job).client
    assert c.get("/api/v1/old-style").json() == {"limit": 5, "verbose": False}
    assert c.get("/api/v1/old-style?limit=7&verbose=yes").json() == {"limit": 7, "verbose": True}
    bad_flag = c.get("/api/v1/old-style?verbose=maybe")
    assert bad_flag.status_code == 400
    assert "query parameter verbose: 'maybe' is not a boolean" in bad_flag.json()["error"]
    assert c.get("/api/v1/tagged?tag=a&tag=b").json() == ["a", "b"]
    assert c.get("/api/v1/tagged").json() == []
    assert c.post("/api/v1/embedded", json={"item": {"k": 1}}).json() == {"k": 1}
    not_object = c.post("/api/v1/embedded", json=[1])
    assert not_object.status_code == 400
    assert "request body must be a JSON object with item" in not_object.json()["error"]
    assert c.post("/api/v1/two-bodies", json={"first": [1, 2], "second": [3]}).json() == 6
    missing = c.post("/api/v1/two-bodies", json={"first": [1]})
    assert "missing required body parameter second" in missing.json()["error"]
    files = c.get("/api/v1/files/a/b/c.txt", headers={"User-Agent": "probe/1"}).json()
    assert files == {"rest": "a/b/c.txt", "agent": "probe/1"}
    assert c.get("/api/v1/items/21?scale=2").json() == 42.0
    assert c.get("/api/v1/items/x").status_code == 400
    assert c.delete("/api/v1/items/3").json() == "removed 3"
    assert c.put("/api/v1/items/3").status_code == 405
    # The original form of auxiliary endpoints is served next to them.
    assert c.post("/api/v1/call", json={}).status_code == 400


def test_cors_preflight_and_answers_as_the_original(start_job: StartJob) -> None:
    c = start_compat(start_job).client
    preflight = c.options(
        "/api/v1/perform",
        headers={
            "Origin": "https://dashboard.example.org",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type, x-racetrack-auth",
        },
    )
    assert (preflight.status_code, preflight.text) == (200, "OK")
    h = preflight.headers
    assert h["access-control-allow-origin"] == "https://dashboard.example.org"
    assert h["access-control-allow-methods"] == "DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT"
    assert h["access-control-allow-headers"] == "content-type, x-racetrack-auth"
    assert h["access-control-allow-credentials"] == "true"
    assert h["access-control-max-age"] == "600"
    simple = c.post("/api/v1/perform", json={}, headers={"Origin": "https://x.example"})
    assert simple.headers["access-control-allow-origin"] == "*"
    assert simple.headers["access-control-allow-credentials"] == "true"
    with_cookie = c.get("/live", headers={"Origin": "https://x.example", "Cookie": "a=b"})
    assert with_cookie.headers["access-control-allow-origin"] == "https://x.example"
    assert with_cookie.headers["vary"] == "Origin"
    plain = c.post("/api/v1/perform", json={})
    assert "access-control-allow-origin" not in plain.headers
    # An OPTIONS that is not a preflight is an ordinary request.
    assert c.options("/api/v1/perform").status_code == 405


def test_a_job_without_webview_answers_404_there(start_job: StartJob) -> None:
    c = start_compat(start_job).client
    for path in ("/api/v1/webview", "/api/v1/webview/", "/api/v1/webview/page"):
        answer = c.get(path)
        assert (answer.status_code, answer.json()["type"]) == (404, "NotFound"), path
