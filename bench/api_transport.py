"""What a request to the API server costs the process that sends it, by way of sending it.

Run: ``python bench/api_transport.py [--requests 3000] [--rounds 2]``

On a control plane of its own, the same GET (one Namespace) is sent ``--requests`` times by:

- ``racetrack_kube.client.Kube`` by default: the ``kubernetes`` package's urllib3 pool,
  driven from a thread pool so that the event loop never blocks (the baseline);
- the same client's request function called in the calling thread: the pool's hand-over
  taken away, urllib3 and the JSON decoding left;
- the same client on the event loop (``on_loop``: aiohttp, no thread at all), as the
  operator sends its requests.

Each one at a time and 16 at a time (as a backlog's reconciliations do), CPU time of this
process (every thread) per request, with the ratio to the baseline of the same round. The
API server's own CPU is not counted: see ``api_costs.py`` for that.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

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
        on_loop = Kube(
            load_api_client(CONCURRENCY, "bench", kubeconfig=str(running.kubeconfig)),
            CONCURRENCY,
            on_loop=True,
        )

        async def pooled() -> Any:
            return await kube.get(PATH)

        async def on_the_loop() -> Any:
            return await on_loop.get(PATH)

        async def inline() -> Any:
            return kube._request("GET", PATH, None, [], "application/json", "application/json")

        ways: dict[str, tuple[Send, Callable[[], Awaitable[None]]]] = {
            "Kube: urllib3 from a thread pool": (pooled, _nothing),
            "Kube's request in the calling thread": (inline, _nothing),
            # Each measurement runs its own event loop, and the connections belong to it.
            "Kube on the event loop (the operator's)": (on_the_loop, on_loop.aclose),
        }
        print(f"CPU of this process per GET, {args.requests} GETs each:\n")
        print(f"{'round':<6} {'how':<40} {'one at a time':>15} {'16 at a time':>15}")
        for round_ in range(1, args.rounds + 1):
            baseline: dict[int, float] = {}
            for name, (send, close) in ways.items():
                cells = []
                for concurrency in (1, CONCURRENCY):
                    # (In the calling thread, one at a time whatever is asked.)
                    us = cpu_per_request(send, args.requests, concurrency, close)
                    baseline.setdefault(concurrency, us)
                    cells.append(f"{us:6.0f} us {us / baseline[concurrency]:4.2f}x")
                print(f"{round_:<6} {name:<40} {cells[0]:>15} {cells[1]:>15}")
        kube.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
