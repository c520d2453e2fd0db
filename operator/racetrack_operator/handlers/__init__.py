"""kopf handlers, one module per kind; importing this package registers them all.

Each handler is a few lines forwarding to ``racetrack_operator.reconcile``. Jobs have no kopf
handler: the start-up handler starts their watch (``reconcile.jobwatch``). Run them with
``python -m racetrack_operator`` (or ``kopf run -m racetrack_operator.handlers -A``).
"""

from racetrack_operator.handlers import (
    build,
    externalserviceconsumer,
    jobfamily,
    permission,
    startup,
    user,
)

__all__ = [
    "build",
    "externalserviceconsumer",
    "jobfamily",
    "permission",
    "startup",
    "user",
]
