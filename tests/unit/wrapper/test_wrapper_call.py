"""racetrack_job_wrapper.call: addresses, headers and errors, without a network."""

from __future__ import annotations

import contextvars
import types
from typing import Any

import pytest

from racetrack_job_wrapper import call


class Incoming:
    def __init__(self, headers: dict[str, str]) -> None:
        self.headers = headers


def entrypoint(headers: dict[str, str] | None) -> Any:
    holder: contextvars.ContextVar[Any] = contextvars.ContextVar("request")
    if headers is not None:
        holder.set(Incoming(headers))
    return types.SimpleNamespace(request_context=holder)


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PUB_URL", "http://pub.racetrack:7205/pub/")
    monkeypatch.setenv("AUTH_TOKEN", "family-token")
    monkeypatch.setenv("JOB_NAME", "chain")
    for name in ("REQUEST_TRACING_HEADER", "CALLER_NAME_HEADER"):
        monkeypatch.delenv(name, raising=False)


def test_a_call_goes_to_the_gateway_with_the_token_and_the_requests_ids() -> None:
    job = entrypoint({"X-Request-Tracing-Id": "t-1", "X-Caller-Name": "User eve"})
    request = call._request(job, "job", "adder", "1.x", "api/v1/perform", {"a": 1}, "post")
    assert request.full_url == "http://pub.racetrack:7205/pub/job/adder/1.x/api/v1/perform"
    assert request.get_method() == "POST"
    assert request.data == b'{"a": 1}'
    headers = {k.lower(): v for k, v in request.header_items()}
    assert headers == {
        "x-racetrack-auth": "family-token",
        "x-request-tracing-id": "t-1",
        "x-caller-name": "User eve",
        "content-type": "application/json",
    }


def test_header_names_follow_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REQUEST_TRACING_HEADER", "traceparent")
    job = entrypoint({"traceparent": "00-abc", "X-Request-Tracing-Id": "ignored"})
    assert call.passed_on_headers(job) == {"traceparent": "00-abc"}


@pytest.mark.parametrize("job", [entrypoint(None), object(), entrypoint({})])
def test_outside_a_request_nothing_is_passed_on(job: Any) -> None:
    assert call.passed_on_headers(job) == {}


@pytest.mark.parametrize(
    ("variable", "message"),
    [
        ("PUB_URL", "PUB_URL is not set: the job does not know the gateway's address"),
        ("AUTH_TOKEN", "AUTH_TOKEN is not set: the job has no token to call other jobs with"),
    ],
)
def test_missing_variables_fail_as_the_original_did(
    monkeypatch: pytest.MonkeyPatch, variable: str, message: str
) -> None:
    monkeypatch.delenv(variable)
    with pytest.raises(RuntimeError) as caught:
        call.call_job(entrypoint(None), "adder", version="2.0.0")
    assert str(caught.value) == f'failed to call job "adder 2.0.0" by chain: {message}'
    with pytest.raises(RuntimeError, match=message):
        call.async_job_call(entrypoint(None), "adder")


def test_an_unreachable_gateway_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PUB_URL", "http://127.0.0.1:9/pub")  # discard port: refused
    with pytest.raises(RuntimeError, match=r"cannot reach http://127\.0\.0\.1:9/pub/job/adder"):
        call.call_job(entrypoint(None), "adder", timeout=2)


def test_the_earlier_name_of_the_coroutine_still_works() -> None:
    assert call.call_job_async is call.call_job_coroutine
