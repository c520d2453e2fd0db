"""What a build step tells the operator: one JSON object in ``/dev/termination-log``.

The kubelet copies a container's termination message into the pod's status, where the
operator reads it: no API access for build pods, no ``pods/log`` permission for the
operator. On success the message holds the step's results (the revision, the pushed
digest, timings); on a failure the builder understood, a reason naming the step, a message
saying what to fix, whether retrying may help, and the last lines of the tool's output. A
failure the builder did not foresee (a crash, an out-of-memory kill) writes nothing, and
``terminationMessagePolicy: FallbackToLogsOnError`` puts the log's tail there instead.

Exit codes tell the Job controller what to do (its ``podFailurePolicy``): ``PERMANENT``
fails the build at once, any other failure is retried with the controller's backoff.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

#: The kubelet keeps at most 4096 bytes of a termination message.
MESSAGE_LIMIT = 4096
LOG_LINES = 20
LINE_LIMIT = 160
TERMINATION_LOG = Path(os.environ.get("RACETRACK_TERMINATION_LOG", "/dev/termination-log"))

#: Exit code of a failure that retrying cannot fix (EX_DATAERR): bad input, a missing branch,
#: a requirement that does not install, a Dockerfile error, a refused push.
PERMANENT = 65
#: Exit code of a failure that may pass (EX_TEMPFAIL): an unreachable server, a 5xx.
TRANSIENT = 75

# Reasons, one per step that can fail; the operator shows them as the Built condition's.
FETCH_FAILED = "FetchFailed"
DEPENDENCIES_FAILED = "DependenciesFailed"
IMAGE_BUILD_FAILED = "ImageBuildFailed"
PUSH_FAILED = "PushFailed"


class BuildFailure(Exception):
    """A step failed in a way the builder understood."""

    def __init__(
        self, reason: str, message: str, *, permanent: bool, log: list[str] | None = None
    ) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.permanent = permanent
        self.log = log or []
        #: The phase that failed, when a step has several (python3's build: dependencies,
        #: image); the container's name says the step otherwise.
        self.step: str | None = None


def tail(text: str, lines: int = LOG_LINES) -> list[str]:
    """The last non-empty lines of a tool's output, each cut to a readable length."""
    kept = [line.rstrip()[:LINE_LIMIT] for line in text.splitlines() if line.strip()]
    return kept[-lines:]


def encode(document: dict[str, Any]) -> str:
    """The message as written: JSON within the kubelet's limit, dropping log lines first."""
    log = list(document.get("log") or [])
    while True:
        text = json.dumps({**document, "log": log} if log else _without_log(document))
        if len(text.encode()) <= MESSAGE_LIMIT or not log:
            break
        log = log[1:]
    if len(text.encode()) > MESSAGE_LIMIT:
        message = str(document.get("message", ""))[:1000]
        text = json.dumps({**_without_log(document), "message": message})
    return text


def _without_log(document: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in document.items() if key != "log"}


def write(document: dict[str, Any], path: Path | None = None) -> None:
    target = path or TERMINATION_LOG
    try:
        target.write_text(encode(document))
    except OSError:
        # Outside a pod (a developer running a step by hand) there is no termination log.
        print(encode(document))


def failure_document(failure: BuildFailure) -> dict[str, Any]:
    document: dict[str, Any] = {
        "reason": failure.reason,
        "message": failure.message,
        "permanent": failure.permanent,
        "log": failure.log,
    }
    if failure.step is not None:
        document["step"] = failure.step
    return document


class Timings:
    """How long each phase of a step took, for the termination message and benchmarks."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        started = time.monotonic()
        try:
            yield
        finally:
            self.seconds[name] = round(time.monotonic() - started, 3)
