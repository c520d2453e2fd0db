"""The runtime as users meet it: a real process, real HTTP, every endpoint and error."""

from __future__ import annotations

import json
import re
import socket
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

import httpx

if TYPE_CHECKING:  # pytest imports conftest itself; this import is for type checkers only
    from tests.runtime.conftest import RunningJob


def error_of(response: httpx.Response) -> dict[str, str]:
    assert response.headers["content-type"].startswith("application/json")
    body: dict[str, str] = response.json()
    assert body["request_id"] == response.headers["x-request-tracing-id"]
    return body


def test_perform_returns_the_json_result(kitchen: RunningJob) -> None:
    response = kitchen.client.post("/api/v1/perform", json={"a": 1, "b": 5})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == 6
    default = kitchen.client.post("/api/v1/perform", json={"a": 1})
    assert default.json() == 3


def test_tracing_id_is_echoed_and_logged_by_runtime_and_user_code(kitchen: RunningJob) -> None:
    response = kitchen.client.post(
        "/api/v1/perform", json={"a": 7, "b": 8}, headers={"X-Request-Tracing-Id": "trace-42"}
    )
    assert response.headers["x-request-tracing-id"] == "trace-42"
    kitchen.wait_for_log("POST /api/v1/perform 200, tracing_id=trace-42")
    assert "User code adds 7 and 8, tracing_id=trace-42" in kitchen.log()


def test_tracing_id_is_generated_when_absent(kitchen: RunningJob) -> None:
    first = kitchen.client.get("/live").headers["x-request-tracing-id"]
    second = kitchen.client.get("/live").headers["x-request-tracing-id"]
    assert re.match(r"^[0-9a-f-]{36}$", first)
    assert first != second


def test_malformed_json_is_400(kitchen: RunningJob) -> None:
    response = kitchen.client.post("/api/v1/perform", content=b'{"a": 1,')
    assert response.status_code == 400
    body = error_of(response)
    assert body["type"] == "InvalidJSON"
    assert "not valid JSON" in body["error"]


def test_json_that_is_not_an_object_is_400(kitchen: RunningJob) -> None:
    for payload, kind in ((b"[1, 2]", "an array"), (b'"text"', "a JSON str"), (b"3", "a JSON int")):
        response = kitchen.client.post("/api/v1/perform", content=payload)
        assert response.status_code == 400
        assert f"must be a JSON object of arguments, got {kind}" in error_of(response)["error"]


def test_unknown_and_missing_arguments_are_400_naming_them(kitchen: RunningJob) -> None:
    unknown = kitchen.client.post("/api/v1/perform", json={"a": 1, "c": 3})
    assert unknown.status_code == 400
    assert error_of(unknown)["error"] == "unknown argument(s): c (accepted: a, b)"
    missing = kitchen.client.post("/api/v1/perform", json={"b": 1})
    assert missing.status_code == 400
    assert error_of(missing)["error"] == "missing required argument(s): a"
    empty = kitchen.client.post("/api/v1/perform", content=b"")
    assert empty.status_code == 400
    assert "missing required argument(s): a" in error_of(empty)["error"]


def test_body_over_the_limit_is_413_and_the_runtime_stays_up(kitchen: RunningJob) -> None:
    big = json.dumps({"a": 1, "b": 2, "pad": "x" * 5000}).encode()
    response = kitchen.client.post("/api/v1/perform", content=big)
    assert response.status_code == 413
    assert "larger than the limit of 2048 bytes" in error_of(response)["error"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit is counted while reading
        yield b'{"a": 1, "pad": "'
        for _ in range(10):
            yield b"y" * 500
        yield b'"}'

    chunked = kitchen.client.post("/api/v1/perform", content=chunks())
    assert chunked.status_code == 413
    assert kitchen.client.post("/api/v1/perform", json={"a": 2}).json() == 4


def test_user_exception_is_500_with_message_and_request_id(kitchen: RunningJob) -> None:
    response = kitchen.client.post(
        "/api/v1/fail",
        json={"message": "the model is on fire"},
        headers={"X-Request-Tracing-Id": "t-500"},
    )
    assert response.status_code == 500
    body = error_of(response)
    assert body == {"error": "the model is on fire", "type": "RuntimeError", "request_id": "t-500"}
    kitchen.wait_for_log(
        "Call to /fail failed: RuntimeError: the model is on fire, tracing_id=t-500"
    )
    assert "raise RuntimeError(message)" in kitchen.log()  # the traceback is in the log


def test_hanging_user_code_is_504_and_the_runtime_stays_up(kitchen: RunningJob) -> None:
    response = kitchen.client.post("/api/v1/sleep", json={"seconds": 4})
    assert response.status_code == 504
    assert "did not finish within 1 s" in error_of(response)["error"]
    assert kitchen.client.get("/live").status_code == 200
    assert kitchen.client.post("/api/v1/perform", json={"a": 1, "b": 1}).json() == 2


def test_async_auxiliary_endpoint(kitchen: RunningJob) -> None:
    response = kitchen.client.post("/api/v1/async_add", json={"a": 2, "b": 3})
    assert response.status_code == 200
    assert response.json() == 5


def test_result_that_is_not_json_is_a_clear_500(kitchen: RunningJob) -> None:
    response = kitchen.client.post("/api/v1/not_json")
    assert response.status_code == 500
    body = error_of(response)
    assert body["type"] == "NotSerializable"
    assert "object of type object is not JSON serializable" in body["error"]


def test_wrong_method_and_unknown_paths(kitchen: RunningJob) -> None:
    wrong = kitchen.client.get("/api/v1/perform")
    assert wrong.status_code == 405
    assert error_of(wrong)["type"] == "MethodNotAllowed"
    assert kitchen.client.get("/api/v1/fail").status_code == 405
    for method, path in (("POST", "/api/v1/nope"), ("GET", "/api/v1/nope"), ("GET", "/nope")):
        response = kitchen.client.request(method, path)
        assert response.status_code == 404, path
        assert error_of(response)["type"] == "NotFound"


def test_static_file(kitchen: RunningJob) -> None:
    response = kitchen.client.get("/api/v1/static/hello.txt")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert response.text == "Hello from a static file\n"


def test_probes_and_health(kitchen: RunningJob) -> None:
    assert kitchen.client.get("/ready").json() == {"ready": True}
    assert kitchen.client.get("/live").json() == {
        "live": True,
        "deployment_timestamp": "1700000000",
    }
    health = kitchen.client.get("/health")
    assert health.status_code == 200
    body = health.json()
    assert body["status"] == "pass"
    assert (body["job_name"], body["job_version"], body["git_version"]) == (
        "kitchen",
        "1.2.3",
        "abc123",
    )
    assert body["error"] is None


def test_probes_do_not_flood_the_access_log(kitchen: RunningJob) -> None:
    kitchen.client.get("/ready")
    kitchen.client.get("/nope")
    kitchen.wait_for_log("GET /nope 404")
    assert "GET /ready 200" not in kitchen.log()
    assert "GET /live 200" not in kitchen.log()


def test_metrics_by_endpoint_and_user_metrics(kitchen: RunningJob) -> None:
    kitchen.client.post("/api/v1/perform", json={"a": 1})
    kitchen.client.post("/api/v1/fail", json={"message": "x"})
    response = kitchen.client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text

    def value(series: str) -> float:
        match = re.search(rf"^{re.escape(series)} (\S+)$", text, re.MULTILINE)
        assert match, f"{series} not in /metrics"
        return float(match.group(1))

    assert value("requests_started_total") >= 2
    assert value('endpoint_requests_started_total{endpoint="/perform"}') >= 1
    assert value('request_internal_errors_total{endpoint="/fail"}') >= 1
    assert value('request_duration_count{endpoint="/perform"}') >= 1
    assert value("last_call_timestamp") > 0
    assert value("kitchen_calls") >= 1
    assert value('kitchen_temperature{room="main"}') == 21.5
    assert "bad name!" not in text
    kitchen.wait_for_log("Skipped a user metric: 'bad name!' is not a valid metric name")


def test_parameters_endpoint(kitchen: RunningJob) -> None:
    assert kitchen.client.get("/api/v1/parameters").json() == [
        {"name": "a", "type": "int"},
        {"name": "b", "type": "int", "default_value": 2},
    ]


def test_openapi_document(kitchen: RunningJob) -> None:
    doc = kitchen.client.get("/openapi.json").json()
    assert doc["info"] == {"title": "Job - kitchen", "version": "1.2.3"}
    assert doc["servers"] == [{"url": "/"}]
    op = doc["paths"]["/api/v1/perform"]["post"]
    assert op["summary"] == "Add two integers."
    body = op["requestBody"]["content"]["application/json"]
    assert body["example"] == {"a": 40, "b": 2}
    assert body["schema"]["required"] == ["a"]
    assert body["schema"]["properties"]["b"] == {"type": "integer", "default": 2}
    assert doc["paths"]["/api/v1/fail"]["post"]["summary"] == "Raise an error with `message`."
    assert "/api/v1/static/hello.txt" in doc["paths"]


def test_gateway_prefix_paths(kitchen: RunningJob) -> None:
    prefix = "/pub/job/kitchen/1.2.3"
    response = kitchen.client.post(f"{prefix}/api/v1/perform", json={"a": 2, "b": 2})
    assert response.json() == 4
    assert kitchen.client.get("/pub/fatman/kitchen/latest/ready").json() == {"ready": True}
    doc = kitchen.client.get(f"{prefix}/openapi.json").json()
    assert doc["servers"] == [{"url": prefix}]
    home = kitchen.client.get(f"{prefix}/")
    assert (home.status_code, home.headers["location"]) == (307, f"{prefix}/docs")
    bare = kitchen.client.get(prefix)
    assert (bare.status_code, bare.headers["location"]) == (307, f"{prefix}/")
    assert kitchen.client.get("/").headers["location"] == "/docs"
    forwarded = kitchen.client.get("/openapi.json", headers={"X-Forwarded-Prefix": "/gw/adder"})
    assert forwarded.json()["servers"] == [{"url": "/gw/adder"}]


def test_docs_page_and_its_offline_assets(kitchen: RunningJob) -> None:
    page = kitchen.client.get("/docs")
    assert page.status_code == 200
    assert "<title>Job - kitchen</title>" in page.text
    assert 'src="docs/assets/swagger-ui-bundle.js"' in page.text
    assert "http" not in page.text.split("<body>")[1]  # nothing from a CDN
    script = kitchen.client.get("/docs/assets/swagger-ui-bundle.js")
    assert script.status_code == 200
    assert "javascript" in script.headers["content-type"]
    assert "SwaggerUIBundle" in script.text
    assert kitchen.client.get("/docs/assets/swagger-ui.css").status_code == 200
    assert kitchen.client.get("/docs/assets/index.j2").status_code == 404
    assert kitchen.client.get("/docs/assets/..%2F__init__.py").status_code == 404


def test_metrics_are_also_served_under_the_gateway_prefix(kitchen: RunningJob) -> None:
    # The original's 1.16.5 answered `null` here (a docs route shadowed the metrics).
    prefixed = kitchen.client.get("/pub/job/kitchen/1.2.3/metrics")
    assert prefixed.status_code == 200
    assert "requests_started_total" in prefixed.text


def test_an_idle_keep_alive_connection_outlives_the_gateways_idle_time(
    kitchen: RunningJob,
) -> None:
    # The gateway closes its idle connections to a job after 30 s and may reuse one until
    # then: the runtime must not close it first (uvicorn's default is 5 s). Seen idle past
    # that default, the same connection still serves.
    request = b"GET /live HTTP/1.1\r\nHost: job\r\n\r\n"
    with socket.create_connection(("127.0.0.1", kitchen.port), timeout=10) as sock:
        reader = sock.makefile("rb")
        for pause in (0.0, 6.0):
            time.sleep(pause)
            sock.sendall(request)
            status = reader.readline()
            length = 0
            while (line := reader.readline()) not in (b"\r\n", b""):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            reader.read(length)
            assert status.startswith(b"HTTP/1.1 200"), (pause, status)
