"""Labels and annotations of the racetrack.io API: what users, tools and every deployable
read from objects (``kubectl get -l racetrack.io/family=adder``), spelled in one place.
"""

from __future__ import annotations

from typing import Final

MANAGED_BY: Final = "racetrack-operator"
LABEL_MANAGED_BY: Final = "app.kubernetes.io/managed-by"

#: On a Job's children (and, for ``-l`` filtering, on audit events): the job family, the
#: version and the Job object.
LABEL_FAMILY: Final = "racetrack.io/family"
LABEL_VERSION: Final = "racetrack.io/version"
LABEL_JOB: Final = "racetrack.io/job"

#: Any new value redeploys an unchanged Job (the original dashboard's Redeploy button).
ANNOTATION_REDEPLOY_AT: Final = "racetrack.io/redeploy-at"
#: On a JobFamily the operator created: the owner of the Job that made it.
ANNOTATION_OWNER_EMAIL: Final = "racetrack.io/owner-email"
