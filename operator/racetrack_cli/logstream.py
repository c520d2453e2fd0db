"""``racetrack logs --follow``: the pods' logs as they are written, as ``kubectl logs -f``.

Every pod is followed at once, each in a thread of its own (a followed log is a blocking
HTTP stream); a pod's containers one after another (a build's steps run in that order),
each from where it is now. A container that has not started yet is waited for. It ends when
every followed container has ended (a job's keep running: Ctrl-C ends it); pods that start
later (a rollout, a new build) are not picked up, as with kubectl. With several pods or
containers every line is prefixed with ``[POD CONTAINER]``, so interleaved lines stay
readable.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Protocol, TextIO

from racetrack_kube import paths
from racetrack_kube.client import ApiError

#: How often a container that is not running yet is looked at again.
WAIT_SECONDS = 1.0
#: The API server's words for "this container has no log yet, it has not started".
_NOT_STARTED = ("waiting to start", "ContainerCreating", "PodInitializing")


class LogSource(Protocol):
    def stream_lines(
        self,
        path: str,
        query: list[tuple[str, str]],
        read_timeout: float | None,
        accept: str = ...,
        *,
        keep_blank: bool = ...,
    ) -> Iterator[bytes]: ...


def containers(pod: dict[str, Any], build: bool) -> list[str]:
    """The containers whose logs ``racetrack logs`` prints: a build's steps in order, or the
    job's container."""
    if not build:
        return ["job"]
    spec = pod.get("spec") or {}
    return [c["name"] for c in (*spec.get("initContainers", []), *spec.get("containers", []))]


def not_started(error: ApiError) -> bool:
    return error.status == 400 and any(words in error.body for words in _NOT_STARTED)


def follow_container(
    kube: LogSource,
    namespace: str,
    pod: str,
    container: str,
    tail: int,
    emit: Callable[[str], None],
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Print one container's log as it grows, until the container ends (pure of threads)."""
    query = [("container", container), ("follow", "true")]
    if tail >= 0:
        query.append(("tailLines", str(tail)))
    path = f"{paths.pods(namespace)}/{pod}/log"
    while True:
        try:
            for line in kube.stream_lines(path, query, None, "*/*", keep_blank=True):
                emit(line.decode(errors="replace").rstrip("\r"))
            return
        except ApiError as error:
            if not not_started(error):
                raise
        sleep(WAIT_SECONDS)


def follow_pod(
    kube: LogSource,
    namespace: str,
    pod: dict[str, Any],
    build: bool,
    tail: int,
    print_line: Callable[[str], None],
    prefixed: bool,
) -> None:
    name = pod["metadata"]["name"]
    for container in containers(pod, build):
        prefix = f"[{name} {container}] " if prefixed else ""
        emit = functools.partial(_prefixed, print_line, prefix)
        follow_container(kube, namespace, name, container, tail, emit)


def _prefixed(print_line: Callable[[str], None], prefix: str, line: str) -> None:
    print_line(prefix + line)


async def follow(
    kube: LogSource,
    namespace: str,
    pods: Sequence[dict[str, Any]],
    build: bool,
    tail: int,
    out: TextIO = sys.stdout,
) -> None:
    """Follow every pod's log at once; returns when all have ended, raises the first error."""
    lock = threading.Lock()
    errors: list[BaseException] = []
    prefixed = len(pods) > 1 or len(containers(pods[0], build)) > 1

    def print_line(line: str) -> None:
        with lock:
            out.write(line + "\n")
            out.flush()

    loop = asyncio.get_running_loop()
    remaining = len(pods)
    settled = asyncio.Event()

    def finished(error: BaseException | None) -> None:  # on the loop's thread
        nonlocal remaining
        remaining -= 1
        if error is not None:
            errors.append(error)
        if remaining == 0 or errors:
            settled.set()

    def run(pod: dict[str, Any]) -> None:
        error: BaseException | None = None
        try:
            follow_pod(kube, namespace, pod, build, tail, print_line, prefixed)
        except BaseException as raised:  # handed to the waiting coroutine
            error = raised
        # The command may have ended already (another pod's error): nobody waits then.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(finished, error)

    # Daemon threads: Ctrl-C ends the command without waiting for streams that never end.
    for pod in pods:
        threading.Thread(target=run, args=(pod,), daemon=True).start()
    await settled.wait()
    if errors:
        raise errors[0]
