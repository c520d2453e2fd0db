"""``racetrack-job proxy`` (the docker-proxy job type) in front of a real user server."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

from support import free_port  # type: ignore[import-not-found]

if TYPE_CHECKING:  # pytest imports conftest itself; this import is for type checkers only
    from tests.runtime.conftest import RunningJob, StartJob, StartServer

ECHO = str(Path(__file__).with_name("jobs") / "echo_server.py")
PREFIX = "/pub/job/word-count/1.0.0"


def start_proxy(start_job: StartJob, user_port: int, **env: str) -> RunningJob:
    base = {
        "JOB_NAME": "word-count",
        "JOB_VERSION": "1.0.0",
        "JOB_USER_MODULE_HOSTNAME": "127.0.0.1",
        "JOB_USER_MODULE_PORT": str(user_port),
    }
    return start_job(None, {**base, **env}, command="proxy")


def test_requests_and_answers_pass_through(start_job: StartJob, start_server: StartServer) -> None:
    user = start_server([sys.executable, ECHO, "{port}"])
    proxy = start_proxy(start_job, user.port)
    proxy.wait_for("/ready", 200)
    c = proxy.client
    got = c.get(f"{PREFIX}/api/v1/echo/there", params={"q": "1", "r": "x y"},
                headers={"X-Caller-Name": "User dan", "X-Custom": "kept"})  # fmt: skip
    assert got.status_code == 200 and got.headers["x-echo"] == "yes"
    echoed = got.json()
    assert (echoed["method"], echoed["path"], echoed["query"]) == (
        "GET",
        "/echo/there",
        "q=1&r=x+y",
    )
    headers = echoed["headers"]
    assert headers["x-caller-name"] == "User dan" and headers["x-custom"] == "kept"
    assert headers["referer"] == f"{PREFIX}/api/v1/echo/there"
    assert headers["x-request-tracing-id"] == got.headers["x-request-tracing-id"]
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        answer = c.request(method, "/api/v1/things", content=b'{"n": 1}').json()
        assert (answer["method"], answer["body"]) == (method, '{"n": 1}')
    teapot = c.get("/api/v1/status/418")
    assert (teapot.status_code, teapot.json()) == (418, {"status": "as asked"})
    assert c.get("/api/v1/status/503").status_code == 503
    metrics = c.get("/metrics").text
    assert 'endpoint_requests_started_total{endpoint="/echo/there"} 1.0' in metrics
    # The user's server failing counts as an error; its 4xx answers do not.
    assert 'request_internal_errors_total{endpoint="/status/418"} 0.0' in metrics
    assert 'request_internal_errors_total{endpoint="/status/503"} 1.0' in metrics


def test_redirects_stay_behind_the_gateway(start_job: StartJob, start_server: StartServer) -> None:
    user = start_server([sys.executable, ECHO, "{port}"])
    proxy = start_proxy(start_job, user.port)
    proxy.wait_for("/ready", 200)
    c = proxy.client
    cases = {
        f"http://127.0.0.1:{user.port}/done?x=1": f"{PREFIX}/api/v1/done?x=1",
        "/done": f"{PREFIX}/api/v1/done",
        f"{PREFIX}/api/v1/done": f"{PREFIX}/api/v1/done",
        "relative/page": "relative/page",
    }
    for location, expected in cases.items():
        answer = c.get(f"{PREFIX}/api/v1/redirect", params={"to": location})
        assert (answer.status_code, answer.headers["location"]) == (302, expected), location
    direct = c.get("/api/v1/redirect", params={"to": "/done"})
    assert direct.headers["location"] == "/api/v1/done"


def test_readiness_follows_the_users_server(start_job: StartJob, start_server: StartServer) -> None:
    port = free_port()
    proxy = start_proxy(start_job, port)
    not_ready = proxy.client.get("/ready")
    assert not_ready.status_code == 503
    assert (
        f"the user module at 127.0.0.1:{port} does not accept connections"
        in (not_ready.json()["error"])
    )
    assert proxy.client.get("/live").json()["live"] is True
    down = proxy.client.post("/api/v1/perform", json={})
    assert (down.status_code, down.json()["type"]) == (502, "BadGateway")
    assert "refused the connection" in down.json()["error"]

    user = start_server([sys.executable, ECHO, "{port}"], port=port)
    proxy.wait_for("/ready", 200)
    assert proxy.client.get("/api/v1/x").json()["path"] == "/x"
    # A restart of the user's server leaves a dead kept-alive connection: retried once.
    user.stop()
    start_server([sys.executable, ECHO, "{port}"], port=port)
    assert proxy.client.get("/api/v1/y").json()["path"] == "/y"


def test_slow_answers_and_large_bodies(start_job: StartJob, start_server: StartServer) -> None:
    user = start_server([sys.executable, ECHO, "{port}"])
    proxy = start_proxy(start_job, user.port, JOB_PERFORM_TIMEOUT="1", JOB_MAX_BODY_BYTES="100")
    proxy.wait_for("/ready", 200)
    slow = proxy.client.get("/api/v1/slow", params={"seconds": "4"})
    assert (slow.status_code, slow.json()["type"]) == (504, "Timeout")
    big = proxy.client.post("/api/v1/things", content=b"x" * 101)
    assert (big.status_code, big.json()["type"]) == (413, "PayloadTooLarge")
    assert proxy.client.get("/api/v1/slow", params={"seconds": "0"}).status_code == 200
