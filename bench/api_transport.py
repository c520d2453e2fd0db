"""What a request to the API server costs the process that sends it, by way of sending it.

Run: ``python bench/api_transport.py [--requests 3000] [--rounds 2]``

On a control plane of its own, the same GET (one Namespace) is sent ``--requests`` times by:

- ``racetrack_kube.client.Kube``, the operator's client: the ``kubernetes`` package's urllib3
  pool, driven from a thread pool so that the event loop never blocks (the baseline);
- the same client's request function called in the calling thread: the pool's hand-over
  taken away, urllib3 and the JSON decoding left;
- aiohttp on the event loop, with the kubeconfig's certificates: no thread at all.

Each one at a time and 16 at a time (as a backlog's reconciliations do), CPU time of this
process (every thread) per request, with the ratio to the baseline of the same round. The
API server's own CPU is not counted: see ``api_costs.py`` for that.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import ssl
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import yaml
from pydantic_core import from_json

from jobs_scale import cluster
from racetrack_devcluster.build import BinaryCache
from racetrack_kube.client import Kube, load_api_client

PATH = "/api/v1/namespaces/default"
CONCURRENCY = 16


Send = Callable[[], Awaitable[Any]]


async def _nothing() -> None:
    pass


def cpu_per_request(
    send: Send, requests: int, concurrency: int, close: Callable[[], Awaitable[None]] = _nothing
) -> float:
    """Microseconds of this process's CPU per request, ``concurrency`` in flight at once;
    ``close`` ends what ``send`` opened on the run's event loop."""

    async def run() -> float:
        await send()  # connections opened before the clock starts
        started = time.process_time()
        for _ in range(requests // concurrency):
            await asyncio.gather(*(send() for _ in range(concurrency)))
        spent = time.process_time() - started
        await close()
        return spent / (requests // concurrency * concurrency) * 1e6

    return asyncio.run(run())


def ssl_context(kubeconfig: Path, work: Path) -> tuple[str, ssl.SSLContext]:
    """The API server's URL and a TLS context with the kubeconfig's CA and client certificate."""
    config = yaml.safe_load(kubeconfig.read_text())
    server = config["clusters"][0]["cluster"]
    user = config["users"][0]["user"]
    context = ssl.create_default_context()
    if "certificate-authority-data" in server:
        context.load_verify_locations(
            cadata=base64.b64decode(server["certificate-authority-data"]).decode()
        )
    else:
        context.load_verify_locations(server["certificate-authority"])
    files = {}
    for part in ("client-certificate", "client-key"):
        files[part] = work / part
        if f"{part}-data" in user:
            files[part].write_bytes(base64.b64decode(user[f"{part}-data"]))
        else:
            files[part].write_bytes(Path(user[part]).read_bytes())
    context.load_cert_chain(files["client-certificate"], files["client-key"])
    return str(server["server"]), context


def on_the_loop(url: str, context: ssl.SSLContext) -> tuple[Send, Callable[[], Awaitable[None]]]:
    """A GET with aiohttp, and what closes its session: one session per event loop (each
    measurement runs its own)."""
    sessions: dict[asyncio.AbstractEventLoop, aiohttp.ClientSession] = {}

    async def send() -> Any:
        loop = asyncio.get_running_loop()
        if loop not in sessions:
            connector = aiohttp.TCPConnector(ssl=context, limit=CONCURRENCY)
            sessions[loop] = aiohttp.ClientSession(connector=connector)
        async with sessions[loop].get(url + PATH, headers={"Accept": "application/json"}) as answer:
            answer.raise_for_status()
            return from_json(await answer.read())

    async def close() -> None:
        await sessions.pop(asyncio.get_running_loop()).close()

    return send, close


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory(prefix="rt-transport-") as work,
        cluster(BinaryCache().ensure(), Path(work), "transport", 1, 10) as running,
    ):
        kube = Kube(load_api_client(CONCURRENCY, "bench", kubeconfig=str(running.kubeconfig)))
        url, context = ssl_context(running.kubeconfig, Path(work))
        aiohttp_get, aiohttp_close = on_the_loop(url, context)

        async def pooled() -> Any:
            return await kube.get(PATH)

        async def inline() -> Any:
            return kube._request("GET", PATH, None, [], "application/json", "application/json")

        ways: dict[str, tuple[Send, Callable[[], Awaitable[None]]]] = {
            "Kube: urllib3 from a thread pool": (pooled, _nothing),
            "Kube's request in the calling thread": (inline, _nothing),
            "aiohttp on the event loop": (aiohttp_get, aiohttp_close),
        }
        print(f"CPU of this process per GET, {args.requests} GETs each:\n")
        print(f"{'round':<6} {'how':<38} {'one at a time':>15} {'16 at a time':>15}")
        for round_ in range(1, args.rounds + 1):
            baseline: dict[int, float] = {}
            for name, (send, close) in ways.items():
                cells = []
                for concurrency in (1, CONCURRENCY):
                    # (In the calling thread, one at a time whatever is asked.)
                    us = cpu_per_request(send, args.requests, concurrency, close)
                    baseline.setdefault(concurrency, us)
                    cells.append(f"{us:6.0f} us {us / baseline[concurrency]:4.2f}x")
                print(f"{round_:<6} {name:<38} {cells[0]:>15} {cells[1]:>15}")
        kube.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
