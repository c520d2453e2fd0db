"""``python -m racetrack_operator``: run the operator against the current KUBECONFIG.

Watches all namespaces unless ``RACETRACK_NAMESPACES`` lists some (then those and the
platform namespace, ``RACETRACK_PLATFORM_NAMESPACE``); serves Prometheus metrics
on ``RACETRACK_METRICS_PORT`` and kopf's liveness probe on ``RACETRACK_LIVENESS_ENDPOINT``
(see ``racetrack_operator.settings``). No flags: everything is an environment variable, the
same in a Pod and on a laptop.
"""

from __future__ import annotations

import sys

import kopf

# Imported for its side effect: registering every handler with kopf.
from racetrack_operator import handlers  # noqa: F401
from racetrack_operator.settings import Settings, SettingsError


def main() -> int:
    try:
        settings = Settings.from_env()
    except SettingsError as error:
        print(f"racetrack-operator: {error}", file=sys.stderr)
        return 2
    kopf.configure(log_format=kopf.LogFormat.PLAIN)
    kopf.run(
        # One replica (Recreate): no peering objects to create or RBAC to grant for them.
        standalone=True,
        clusterwide=not settings.watched_namespaces,
        namespaces=settings.watched_namespaces,
        liveness_endpoint=settings.liveness_endpoint or None,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
