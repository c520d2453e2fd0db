"""The shipped examples, started the way a job image starts them.

Each example's ``job.yaml`` is read as the original read it (``extends`` merged, the
deprecated ``python:`` key, the default version), its job type resolved, and the container
environment rendered by ``JobType.runtime_env`` (what the operator puts on the
Deployment); the runtime then runs with no entrypoint argument, in the example's folder
(the image's ``/src/job``), so the example, the job type data and the runtime are checked
together, over real HTTP.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from job_manifests import EXAMPLES, example_env, load_manifest  # type: ignore[import-not-found]

if TYPE_CHECKING:  # pytest imports conftest itself; this import is for type checkers only
    from tests.runtime.conftest import StartExample, StartJob, StartServer


def test_adder(start_example: StartExample) -> None:
    job = start_example("adder")
    job.wait_for("/ready", 200)
    assert job.client.post("/api/v1/perform", json={"a": 1, "b": 2}).json() == 3
    assert job.client.post("/api/v1/perform", json={"a": 1.5, "b": 2}).json() == 3.5
    doc = job.client.get("/openapi.json").json()
    assert doc["info"]["title"] == "Job - adder"
    body = doc["paths"]["/api/v1/perform"]["post"]["requestBody"]["content"]["application/json"]
    assert body["example"] == {"a": 40, "b": 2}
    # The manifest pins python3:2.15.1, the original's release: that is what the job reports.
    assert job.client.get("/health").json()["job_type_version"] == "2.15.1"


def test_auxiliary_endpoints_docs_examples_and_static_files(start_example: StartExample) -> None:
    job = start_example("auxiliary-endpoints")
    job.wait_for("/ready", 200)
    score = job.client.post("/api/v1/perform", json={"text": "The quick brown fox"}).json()
    assert score == {"words": 4, "vowels": 5}
    explained = job.client.post("/api/v1/explain", json=score).json()
    assert explained == {"vowels_per_word": 1.25, "verdict": "terse"}
    home = job.client.get("/")
    assert (home.status_code, home.headers["location"]) == (307, "/api/v1/ui")
    page = job.client.get("/api/v1/ui")
    assert page.headers["content-type"].startswith("text/html")
    assert "<h1>Text scorer</h1>" in page.text
    assert job.client.get("/api/v1/assets/index.html").text == page.text
    manifest = job.client.get("/api/v1/manifest")
    assert manifest.headers["content-type"] == "application/x-yaml"
    assert "name: text-scorer" in manifest.text
    doc = job.client.get("/openapi.json").json()
    explain = doc["paths"]["/api/v1/explain"]["post"]["requestBody"]["content"]["application/json"]
    assert explain["example"] == {"words": 4, "vowels": 5}
    assert "scored_texts 1.0" in job.client.get("/metrics").text


def test_auxiliary_endpoints_v2_bind_path_query_header_and_body(
    start_example: StartExample,
) -> None:
    job = start_example("auxiliary-endpoints-v2")
    job.wait_for("/ready", 200)
    c = job.client
    assert c.get("/api/v1/units").json() == ["ft", "in", "m", "mi"]
    assert c.get("/api/v1/convert/ft", params={"value": "10"}).json() == 3.048
    many = c.post("/api/v1/convert-many/in", json=[1, 10, 100], headers={"X-Precision": "2"}).json()
    assert many == [0.03, 0.25, 2.54]
    assert c.post("/api/v1/convert-many/in", json=[1]).json() == [0.025]  # default precision
    bad = c.get("/api/v1/convert/ft", params={"value": "ten"})
    assert (bad.status_code, bad.json()["type"]) == (400, "InvalidArguments")
    assert "query parameter value: 'ten' is not a number" in bad.json()["error"]
    missing = c.get("/api/v1/convert/ft")
    assert missing.status_code == 400
    assert "missing required query parameter value" in missing.json()["error"]
    assert c.post("/api/v1/convert/ft").status_code == 405
    assert c.get("/api/v1/convert").status_code == 404
    unknown = c.get("/api/v1/convert/parsec", params={"value": "1"})
    assert (unknown.status_code, unknown.json()["type"]) == (500, "KeyError")
    # Through the gateway's path too, and in the docs with their parameters.
    prefixed = c.get("/pub/job/unit-converter/1.0.0/api/v1/convert/mi", params={"value": "1"})
    assert prefixed.json() == 1609.344
    doc = c.get("/openapi.json").json()
    convert = doc["paths"]["/api/v1/convert/{unit}"]["get"]
    assert {(p["name"], p["in"]) for p in convert["parameters"]} == {
        ("unit", "path"),
        ("value", "query"),
    }
    batch = doc["paths"]["/api/v1/convert-many/{unit}"]["post"]
    assert batch["tags"] == ["batch"]
    assert batch["requestBody"]["content"]["application/json"]["schema"]["type"] == "array"
    metrics = c.get("/metrics").text
    assert 'endpoint_requests_started_total{endpoint="/convert/{unit}"}' in metrics


def test_secret_from_environment_is_used_but_never_shown(start_example: StartExample) -> None:
    unset = start_example("secret-reader")
    health = unset.wait_for("/health", 500).json()
    assert "SIGNING_KEY is not set" in health["error"]

    job = start_example("secret-reader", {"SIGNING_KEY": "s3cret-key"})
    job.wait_for("/ready", 200)
    answer = job.client.post("/api/v1/perform", json={"message": "hello"})
    expected = hmac.new(b"s3cret-key", b"hello", hashlib.sha256).hexdigest()
    assert answer.json() == {"message": "hello", "signature": expected, "key_id": "example-key-1"}
    assert "s3cret-key" not in answer.text
    assert "s3cret-key" not in job.log()
    # python3:2.* resolved with the original's rules: the newest 2.x release.
    assert job.client.get("/health").json()["job_type_version"] == "2.15.1"


def test_slow_warm_up_is_live_before_ready(start_example: StartExample) -> None:
    job = start_example("slow-warmup", {"WARMUP_SECONDS": "0.5"})
    assert job.client.get("/live").status_code == 200
    job.wait_for("/ready", 200)
    assert job.client.post("/api/v1/perform", json={"x": 2}).json() == 4.5
    assert "Loading the model (0.5 s)" in job.log()


def test_metrics_exports_the_jobs_own_gauges(start_example: StartExample) -> None:
    job = start_example("metrics")
    job.wait_for("/ready", 200)
    rolls = job.client.post("/api/v1/perform", json={"rolls": 50, "seed": 7}).json()
    assert len(rolls) == 50 and set(rolls) <= set(range(1, 7))
    text = job.client.get("/metrics").text
    for face in range(1, 7):
        assert f'dice_rolls{{face="{face}"}} {float(rolls.count(face))}' in text
    assert re.search(r"^dice_uptime_seconds \d", text, re.MULTILINE)
    assert "requests_done_total 1.0" in text


def test_logging_names_the_caller_on_every_line_of_a_call(start_example: StartExample) -> None:
    job = start_example("logging")
    job.wait_for("/ready", 200)
    answer = job.client.post(
        "/api/v1/perform",
        json={"greeting": "Hi"},
        headers={"X-Caller-Name": "User alice", "X-Request-Tracing-Id": "trace-log-1"},
    )
    assert answer.json() == "Hi, User alice!"
    job.wait_for_log("POST /api/v1/perform 200, tracing_id=trace-log-1")
    lines = [line for line in job.log().splitlines() if "trace-log-1" in line]
    assert any("DEBUG Greeting User alice" in line for line in lines)  # the job's own line
    assert all('caller_name="User alice"' in line for line in lines), lines
    assert job.client.post("/api/v1/perform", json={}).json() == "Hello, stranger!"


def test_logging_format_is_the_jobs_own(start_example: StartExample) -> None:
    job = start_example("logging-format")
    job.wait_for("/ready", 200)
    headers = {"X-Caller-Name": "ESC billing", "X-Request-Tracing-Id": "trace-fmt-1"}
    assert job.client.post("/api/v1/perform", json={"text": "four"}, headers=headers).json() == 4
    job.wait_for_log('"text": "POST /api/v1/perform 200"')
    entries = [
        json.loads(line)
        for line in job.log().splitlines()
        if line.startswith("{") and "trace-fmt-1" in line
    ]
    texts = {entry["text"] for entry in entries}
    assert {"Received 'four'", "POST /api/v1/perform 200"} <= texts
    for entry in entries:
        assert entry["job"] == "json-logger"
        assert (entry["tracing_id"], entry["caller_name"]) == ("trace-fmt-1", "ESC billing")
        assert set(entry) >= {"ts", "level", "text"}


def test_webview_wsgi_pages_forms_and_static_files(start_example: StartExample) -> None:
    job = start_example("webview")
    job.wait_for("/ready", 200)
    c = job.client
    base = "/pub/job/guestbook/1.0.0/api/v1/webview"
    home = c.get("/")
    assert (home.status_code, home.headers["location"]) == (307, "/api/v1/webview")
    page = c.get("/api/v1/webview")  # no redirect for the missing slash
    assert page.status_code == 200 and "<h1>Guestbook</h1>" in page.text
    assert f'href="{base}/static/style.css"' in page.text
    signed = c.post(f"{base}/sign", data={"name": "Ada <Lovelace>"})
    assert (signed.status_code, signed.headers["location"]) == (303, f"{base}/")
    assert c.post("/api/v1/perform", json={"name": "Grace"}).json() == 2
    assert c.get(f"{base}/entries.json").json() == ["Ada <Lovelace>", "Grace"]
    assert "<li>Ada &lt;Lovelace&gt;</li>" in c.get(f"{base}/").text
    css = c.get(f"{base}/static/style.css")
    assert css.headers["content-type"].startswith("text/css")
    assert "font-family" in css.text
    assert c.get(f"{base}/static/../entrypoint.py").status_code == 404
    assert c.get(f"{base}/nowhere").status_code == 404


def test_webview_asgi_app_routes_under_its_mount(start_example: StartExample) -> None:
    job = start_example("webview-asgi")
    job.wait_for("/ready", 200)
    c = job.client
    base = "/pub/job/text-preview/1.0.0/api/v1/webview"
    first = c.get(f"{base}/")
    assert (first.status_code, first.headers["location"]) == (302, f"{base}/view")
    posted = c.post(f"{base}/preview", data={"text": "# Title\n\nSome <b>text</b>"})
    assert posted.status_code == 302
    assert posted.headers["location"].startswith(f"{base}/view?text=")
    view = c.get(posted.headers["location"])
    assert "<h2>Title</h2>" in view.text
    assert "<p>Some &lt;b&gt;text&lt;/b&gt;</p>" in view.text
    assert c.get("/api/v1/webview/view", params={"text": "plain"}).text.endswith("<p>plain</p>")
    assert c.post("/api/v1/perform", json={"text": "# A"}).json() == "<h2>A</h2>"


def test_primer(start_example: StartExample) -> None:
    job = start_example("primer")
    job.wait_for("/ready", 200)
    answers = {
        n: job.client.post("/api/v1/perform", json={"number": n}).json()
        for n in (1, 2, 3, 4, 25, 49, 7919, 7917, 1_000_003)
    }
    assert answers == {
        1: False, 2: True, 3: True, 4: False, 25: False, 49: False,
        7919: True, 7917: False, 1_000_003: True,
    }  # fmt: skip
    # No version in the manifest: deployed as the original's default.
    assert job.client.get("/health").json()["job_version"] == "0.0.1"


def test_hasher(start_example: StartExample) -> None:
    job = start_example("hasher")
    job.wait_for("/ready", 200)
    digest = b"abc"
    for _ in range(1000):
        digest = hashlib.sha256(digest).digest()
    answer = job.client.post("/api/v1/perform", json={"text": "abc", "rounds": 1000})
    assert answer.json() == digest.hex()
    refused = job.client.post("/api/v1/perform", json={"text": "abc", "rounds": 0})
    assert (refused.status_code, refused.json()["type"]) == (500, "ValueError")


def test_timeout_answers_504_and_keeps_serving(start_example: StartExample) -> None:
    job = start_example("timeout")
    job.wait_for("/ready", 200)
    c = job.client
    quick = c.post("/api/v1/perform", json={"mode": "sleep", "seconds": 0.1})
    assert quick.json()["mode"] == "sleep"
    slow = c.post("/api/v1/perform", json={"mode": "sleep", "seconds": 8})
    assert (slow.status_code, slow.json()["type"]) == (504, "Timeout")
    assert "within 2 s" in slow.json()["error"]
    failed = c.post("/api/v1/perform", json={"mode": "fail"})
    assert failed.status_code == 500
    assert failed.json()["error"] == "failing on purpose, as asked"
    assert c.post("/api/v1/perform", json={"mode": "spin", "seconds": 0.1}).status_code == 200
    assert c.get("/live").status_code == 200


def test_overlays_merge_the_base_manifest(start_example: StartExample) -> None:
    manifest = load_manifest(EXAMPLES / "overlays" / "job.yaml")
    assert manifest["name"] == "totals-dev"
    assert manifest["runtime_env"] == {"CURRENCY": "PLN", "ROUNDING": "2"}
    assert manifest["resources"] == {"cpu_min": "50m", "cpu_max": "500m", "memory_min": "256Mi"}
    job = start_example("overlays")
    job.wait_for("/ready", 200)
    answer = job.client.post("/api/v1/perform", json={"amounts": [40.5, 1.25, 0.004]})
    assert answer.json() == {"total": 41.75, "currency": "PLN"}
    assert job.client.get("/health").json()["job_name"] == "totals-dev"


def test_chain_calls_adder_through_the_gateway(
    start_example: StartExample, start_server: StartServer, start_job: StartJob
) -> None:
    adder = start_example("adder")
    adder.wait_for("/ready", 200)
    gateway = start_server(
        [sys.executable, str(Path(__file__).with_name("gateway_standin.py")), "{port}"],
        env={"STANDIN_TARGET": adder.url},
    )
    chain = start_example(
        "chain", {"PUB_URL": f"{gateway.url}/pub", "AUTH_TOKEN": "family-token-of-chain"}
    )
    chain.wait_for("/ready", 200)
    headers = {"X-Request-Tracing-Id": "trace-chain-1", "X-Caller-Name": "User bob"}
    c = chain.client
    assert c.post("/api/v1/perform", json={"a": 0.2, "b": 0.9}, headers=headers).json() == 1
    assert c.post("/api/v1/from-async-code", json={"a": 2.2, "b": 0.9}).json() == 3
    assert c.post("/api/v1/in-background", json={"a": 40.4, "b": 2}).json() == 42

    seen = chain_requests(gateway.url)
    first = seen[0]
    assert (first["method"], first["path"]) == ("POST", "/pub/job/adder/latest/api/v1/perform")
    assert first["headers"]["x-racetrack-auth"] == "family-token-of-chain"
    assert first["headers"]["x-request-tracing-id"] == "trace-chain-1"
    assert first["headers"]["x-caller-name"] == "User bob"
    assert json.loads(first["body"]) == {"a": 0.2, "b": 0.9}
    # The same tracing id reached the adder, and is in both jobs' logs.
    adder.wait_for_log("POST /pub/job/adder/latest/api/v1/perform 200, tracing_id=trace-chain-1")
    chain.wait_for_log("POST /api/v1/perform 200, tracing_id=trace-chain-1")
    # From async code: the id the chain job generated for its request is passed on.
    second = seen[1]
    assert second["headers"]["x-racetrack-auth"] == "family-token-of-chain"
    assert re.fullmatch(r"[0-9a-f-]{36}", second["headers"]["x-request-tracing-id"])
    # The gateway's asynchronous calls: a task started, then polled past a 408.
    paths = [(r["method"], r["path"]) for r in seen[2:]]
    assert paths == [
        ("POST", "/pub/async/new/job/adder/latest/api/v1/perform"),
        ("GET", "/pub/async/task/task-1/poll"),
        ("GET", "/pub/async/task/task-1/poll"),
    ]


def chain_requests(gateway_url: str) -> list[dict[str, Any]]:
    answer: list[dict[str, Any]] = httpx.get(f"{gateway_url}/_seen").json()
    return answer


def test_docker_proxy_forwards_to_the_users_server(
    start_server: StartServer, start_job: StartJob
) -> None:
    folder = EXAMPLES / "docker-proxy"
    user_server = start_server(
        [sys.executable, str(folder / "server.py")], env={"JOB_USER_MODULE_PORT": "{port}"}
    )
    env = example_env(load_manifest(folder / "job.yaml"))
    env["JOB_USER_MODULE_PORT"] = str(user_server.port)
    proxy = start_job(None, env, command="proxy")
    proxy.wait_for("/ready", 200)
    c = proxy.client
    assert c.post("/api/v1/perform", json={"text": "one two three"}).json() == 3
    prefixed = "/pub/job/word-count/1.0.0/api/v1"
    assert c.post(f"{prefixed}/perform", json={"text": "four"}).json() == 1
    assert c.get(f"{prefixed}/stats").json() == {"texts": 2}
    moved = c.get(f"{prefixed}/old-stats")
    assert (moved.status_code, moved.headers["location"]) == (301, f"{prefixed}/stats")
    missing = c.get("/api/v1/nothing")
    assert (missing.status_code, missing.json()) == (404, {"error": "no route /nothing"})
    assert c.get("/health").json()["job_type_version"] == "4.0.0"
