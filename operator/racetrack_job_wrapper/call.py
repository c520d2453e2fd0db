"""Calls from one job to another, through the gateway, with the job family's token.

```python
from racetrack_job_wrapper.call import call_job

class Rounder:
    def perform(self, a: float, b: float) -> int:
        return round(call_job(self, "adder", "/api/v1/perform", {"a": a, "b": b}))
```

Each call goes to ``$PUB_URL/job/<name>/<version><path>`` with ``X-Racetrack-Auth:
$AUTH_TOKEN`` (the family token the operator gives the job), and passes on the tracing id
(``REQUEST_TRACING_HEADER``, default ``X-Request-Tracing-Id``) and the caller's name
(``CALLER_NAME_HEADER``, default ``X-Caller-Name``) of the request being served, read from
``entrypoint.request_context``; outside a request nothing is passed on. The answer's JSON
is returned; an error answer, an unreachable gateway or a missing variable raise
``RuntimeError('failed to call job "<name> <version>" by <JOB_NAME>: ...')``, as before.

``call_job_coroutine`` (also ``call_job_async``, its earlier name) is the same for
``async`` code: the blocking call runs in a worker thread, with the request's context.
``async_job_call`` uses the gateway's asynchronous calls (``$PUB_URL/async/new/job/...``,
then polls ``$PUB_URL/async/task/<id>/poll``) for calls longer than a connection lasts.

Only the standard library is used (``urllib``), so job images need no HTTP client.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

AUTH_HEADER = "X-Racetrack-Auth"
POLL_SECONDS = 60.0
#: Poll answers that mean "not finished yet, ask again".
_KEEP_POLLING = frozenset({202, 408, 504})


class CallError(Exception):
    """What went wrong, before it is wrapped into the original's ``RuntimeError``."""


def call_job(
    entrypoint: Any,
    job_name: str,
    path: str = "/api/v1/perform",
    payload: Any = None,
    version: str = "latest",
    method: str = "POST",
    timeout: float | None = 10,
) -> Any:
    """Call ``path`` of job ``job_name`` (``version``: exact, ``latest`` or a wildcard).

    ``timeout``: seconds the gateway may stay silent before the call fails; ``None``
    waits for ever.
    """
    try:
        request = _request(entrypoint, "job", job_name, version, path, payload, method)
        return _decode(_successful(request, timeout))
    except Exception as exc:
        raise _failure(job_name, version, exc) from exc


async def call_job_coroutine(
    entrypoint: Any,
    job_name: str,
    path: str = "/api/v1/perform",
    payload: Any = None,
    version: str = "latest",
    method: str = "POST",
    timeout: float | None = 10,  # noqa: ASYNC109 (the original's signature)
) -> Any:
    """``call_job`` for ``async`` code (it runs in a worker thread, with this context)."""
    return await asyncio.to_thread(
        call_job, entrypoint, job_name, path, payload, version, method, timeout
    )


call_job_async = call_job_coroutine


def async_job_call(
    entrypoint: Any,
    job_name: str,
    path: str = "/api/v1/perform",
    payload: Any = None,
    version: str = "latest",
    method: str = "POST",
    timeout: float | None = None,
) -> Any:
    """Call through the gateway's asynchronous calls: start a task, poll until it ends.

    ``timeout``: overall seconds before giving up; ``None`` (as before) polls for ever.
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    try:
        start = _request(entrypoint, "async/new/job", job_name, version, path, payload, method)
        body = _successful(start, 30)
        task = _decode(body)
        task_id = task.get("task_id") if isinstance(task, dict) else None
        if not task_id:
            raise CallError(f"the gateway answered no task_id: {body[:200]!r}")
        poll_url = f"{_pub_url()}/async/task/{urllib.parse.quote(str(task_id))}/poll"
        while True:
            if deadline is not None and time.monotonic() > deadline:
                raise CallError(f"task {task_id} did not finish within {timeout:g} s")
            poll = urllib.request.Request(poll_url, headers=_auth(), method="GET")
            try:
                status, body = _send(poll, POLL_SECONDS)
            except TimeoutError:
                continue
            if status == 200:
                return _decode(body)
            if status not in _KEEP_POLLING:
                raise CallError(_status_text(status, poll_url, body))
    except Exception as exc:
        raise _failure(job_name, version, exc) from exc


def _failure(job_name: str, version: str, exc: Exception) -> RuntimeError:
    caller = os.environ.get("JOB_NAME")
    return RuntimeError(f'failed to call job "{job_name} {version}" by {caller}: {exc}')


def _pub_url() -> str:
    url = os.environ.get("PUB_URL", "").strip()
    if not url:
        raise CallError("PUB_URL is not set: the job does not know the gateway's address")
    return url.rstrip("/")


def _auth() -> dict[str, str]:
    token = os.environ.get("AUTH_TOKEN", "").strip()
    if not token:
        raise CallError("AUTH_TOKEN is not set: the job has no token to call other jobs with")
    return {AUTH_HEADER: token}


def _request(
    entrypoint: Any,
    kind: str,
    job_name: str,
    version: str,
    path: str,
    payload: Any,
    method: str,
) -> urllib.request.Request:
    if not job_name:
        raise CallError("no job name given")
    quoted = f"{urllib.parse.quote(job_name, safe='')}/{urllib.parse.quote(version, safe='*')}"
    url = f"{_pub_url()}/{kind}/{quoted}{path if path.startswith('/') else '/' + path}"
    headers = {**_auth(), **passed_on_headers(entrypoint)}
    data = None
    if payload is not None:
        data = json.dumps(payload).encode()
        headers["Content-Type"] = "application/json"
    return urllib.request.Request(url, data=data, headers=headers, method=method.upper())


def passed_on_headers(entrypoint: Any) -> dict[str, str]:
    """The tracing id and caller name of the request ``entrypoint`` is serving, if any."""
    incoming = _current_request(entrypoint)
    if incoming is None:
        return {}
    out = {}
    for variable, default in (
        ("REQUEST_TRACING_HEADER", "X-Request-Tracing-Id"),
        ("CALLER_NAME_HEADER", "X-Caller-Name"),
    ):
        name = os.environ.get(variable, "").strip() or default
        value = incoming.headers.get(name)
        if value:
            out[name] = value
    return out


def _current_request(entrypoint: Any) -> Any:
    holder = getattr(entrypoint, "request_context", None)
    if holder is None:
        return None
    try:
        return holder.get()
    except LookupError:  # a ContextVar without a default, outside a request
        return None


def _send(request: urllib.request.Request, timeout: float | None) -> tuple[int, bytes]:
    """Status and body; HTTP error statuses are returned, not raised."""
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, exc.read()
    except urllib.error.URLError as exc:
        if isinstance(exc.reason, TimeoutError):
            raise exc.reason from None
        raise CallError(f"cannot reach {request.full_url}: {exc.reason}") from None


def _successful(request: urllib.request.Request, timeout: float | None) -> bytes:
    """The body of a 2xx answer; ``CallError`` with the status and body otherwise."""
    status, body = _send(request, timeout)
    if not 200 <= status < 300:
        raise CallError(_status_text(status, request.full_url, body))
    return body


def _decode(body: bytes) -> Any:
    if not body.strip():
        return None
    try:
        return json.loads(body)
    except ValueError as exc:
        raise CallError(f"the answer is not JSON: {exc}: {body[:200]!r}") from None


def _status_text(status: int, url: str, body: bytes) -> str:
    text = body.decode("utf-8", "replace").strip()
    return f"HTTP {status} from {url}: {text[:1000]}"
