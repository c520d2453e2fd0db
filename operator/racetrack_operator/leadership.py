"""One operator at a time: a replica reconciles only while it holds the Lease
``racetrack-operator`` (``coordination.k8s.io/v1``) in the platform namespace. Operators
limited to some namespaces (RACETRACK_NAMESPACES) take a Lease of that scope
(``racetrack-operator-<hash>``): only replicas watching the same namespaces exclude each
other.

A replica that starts while another holds it waits (answering its liveness probe, so the
kubelet leaves it alone) and takes over within a Lease duration once the holder is gone, at
once when the holder released it on a clean shutdown (a rolling update). While the API
server cannot be reached the holder keeps reconciling (nobody can take the Lease meanwhile,
and kopf rides the outage out) and reads the Lease every second; once a read shows another
holder (this replica was cut off from the API server longer than the Lease lasts, and
another took over), it stops reconciling and exits with status 1, so its container restarts
and waits like any other replica.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import signal
import socket
import urllib.parse
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence

from racetrack_kube.client import Kube, load_api_client
from racetrack_kube.lease import LeaseElector

LEASE = "racetrack-operator"
COMPONENT = "racetrack-operator"
#: Exit status of a replica that lost the Lease while reconciling.
LOST_LEASE = 1
log = logging.getLogger(COMPONENT)

Operate = Callable[[asyncio.Event], Awaitable[None]]


def lease_name(watched_namespaces: Sequence[str]) -> str:
    if not watched_namespaces:
        return LEASE
    scope = ",".join(sorted(watched_namespaces)).encode()
    return f"{LEASE}-{hashlib.sha256(scope).hexdigest()[:10]}"


def default_identity() -> str:
    """A name in the Lease when none is set: the host's. A process restarted on the same
    host takes its Lease back at once, as a restarted container does with its pod's name;
    replicas on one host need names of their own (RACETRACK_IDENTITY, which the manifests
    set to the pod's name)."""
    return socket.gethostname()


async def lead(
    namespace: str,
    lease: str,
    identity: str,
    lease_seconds: float,
    liveness_endpoint: str,
    operate: Operate,
    kube: Kube | None = None,
) -> int:
    """Wait for the Lease, then ``operate`` until it returns (a signal) or the Lease is lost
    (then it is asked to stop through the event it gets). Returns the exit status."""
    kube = kube or Kube(load_api_client(4, COMPONENT), 4)
    leading, lost, stopping = asyncio.Event(), asyncio.Event(), asyncio.Event()

    async def on_lead() -> None:
        leading.set()

    elector = LeaseElector(
        kube, namespace, lease, identity, lease_seconds, on_lead, lost.set,
        role="operator", activity="reconciling",
        # An API server outage is no reason to stop: nobody can take the Lease meanwhile,
        # and kopf rides it out. A read showing another holder (after a partition) is.
        step_down_when_unreachable=False,
    )  # fmt: skip
    election = asyncio.create_task(elector.run())
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping.set)
    try:
        async with _liveness_while_waiting(liveness_endpoint):
            log.info("Waiting for the operator's Lease %s/%s as %s.", namespace, lease, identity)
            if not await _first(leading, stopping):
                return 0
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
        # kopf handles SIGTERM from here on; losing the Lease stops it too.
        stop = asyncio.Event()
        watcher = asyncio.create_task(_forward(lost, stop))
        try:
            await operate(stop)
        finally:
            watcher.cancel()
        if lost.is_set():
            log.error("Lost the operator's Lease; exiting so that only its holder reconciles.")
            return LOST_LEASE
        return 0
    finally:
        await elector.release()
        election.cancel()
        await asyncio.gather(election, return_exceptions=True)
        kube.close()


async def _first(wanted: asyncio.Event, other: asyncio.Event) -> bool:
    """Wait for either event; whether ``wanted`` is the one that is set."""
    tasks = [asyncio.create_task(wanted.wait()), asyncio.create_task(other.wait())]
    await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    for task in tasks:
        task.cancel()
    return wanted.is_set()


async def _forward(source: asyncio.Event, target: asyncio.Event) -> None:
    await source.wait()
    target.set()


@contextlib.asynccontextmanager
async def _liveness_while_waiting(endpoint: str) -> AsyncIterator[None]:
    """Answer the liveness probe (any request: 200) while waiting; kopf serves it once this
    replica leads."""
    if not endpoint:
        yield
        return
    url = urllib.parse.urlsplit(endpoint)

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError):
            await reader.readline()
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Length: 8\r\nConnection: close\r\n\r\nwaiting\n"
            )
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, url.hostname, url.port or 80)
    try:
        yield
    finally:
        server.close()
        await server.wait_closed()
