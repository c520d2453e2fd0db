"""``python -m racetrack_operator``: run the operator against the current KUBECONFIG.

Watches all namespaces unless ``RACETRACK_NAMESPACES`` lists some (then those and the
platform namespace, ``RACETRACK_PLATFORM_NAMESPACE``); serves Prometheus metrics
on ``RACETRACK_METRICS_PORT`` and kopf's liveness probe on ``RACETRACK_LIVENESS_ENDPOINT``
(see ``racetrack_operator.settings``). No flags: everything is an environment variable, the
same in a Pod and on a laptop. Reconciles only while holding the operator's Lease
(``racetrack_operator.leadership``): a second replica waits.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys

import kopf
from kopf._core.engines.peering import Identity  # kopf exports no public name for it

from racetrack_operator import (
    allocator,
    handlers,  # noqa: F401 - imported to register every handler with kopf
    leadership,
)
from racetrack_operator.settings import Settings, SettingsError


def main() -> int:
    allocator.limit_arenas()  # before the API client's threads exist (see allocator)
    try:
        settings = Settings.from_env()
    except SettingsError as error:
        print(f"racetrack-operator: {error}", file=sys.stderr)
        return 2
    kopf.configure(log_format=kopf.LogFormat.PLAIN)
    identity = settings.identity or leadership.default_identity()

    async def operate(stop: asyncio.Event) -> None:
        await kopf.operator(
            # Leadership is our Lease's (racetrack_operator.leadership), not kopf's peering,
            # which needs CRDs of its own.
            standalone=True,
            clusterwide=not settings.watched_namespaces,
            namespaces=settings.watched_namespaces,
            liveness_endpoint=settings.liveness_endpoint or None,
            stop_flag=stop,
            # Ours: kopf would otherwise look its own up from the user name, which an
            # image's arbitrary uid (65532 in the manifests) does not have.
            identity=Identity(identity),
        )

    with contextlib.suppress(KeyboardInterrupt):
        return asyncio.run(
            leadership.lead(
                settings.platform_namespace,
                leadership.lease_name(settings.watched_namespaces),
                identity,
                settings.lease_seconds,
                settings.liveness_endpoint,
                operate,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
