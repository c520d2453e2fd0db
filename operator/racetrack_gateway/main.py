"""``racetrack-gateway``: the gateway agent against the current KUBECONFIG (or, in a Pod, its
service account). Everything is a ``RACETRACK_GATEWAY_*`` variable (``settings``), the same
in a Pod and on a laptop. SIGTERM or SIGINT stop it; an HAProxy it runs is soft-stopped
with it (calls in flight finish).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys

from racetrack_gateway.agent import Agent
from racetrack_gateway.settings import Settings, SettingsError
from racetrack_kube.client import Kube, load_api_client

#: Threads for API calls: one list per kind at start, then only the last call times.
API_WORKERS = 8


def main() -> int:
    try:
        settings = Settings.from_env()
    except SettingsError as error:
        print(f"racetrack-gateway: {error}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)-7s %(name)s: %(message)s"
    )
    code = asyncio.run(_run(settings))
    # HAProxy is stopped and nothing is left to do, but a request thread may still wait on an
    # API server that is away (up to its timeouts): do not wait for it at exit.
    logging.shutdown()
    os._exit(code)


async def _run(settings: Settings) -> int:
    kube = Kube(load_api_client(API_WORKERS, "racetrack-gateway"), API_WORKERS)
    agent = Agent(settings, kube)
    task = asyncio.create_task(agent.run())
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, task.cancel)
    with contextlib.suppress(asyncio.CancelledError):
        await task
    kube.close()
    logging.getLogger(__name__).info("Gateway agent stopped.")
    return 0
