"""``racetrack.io/v1alpha1``: every kind of the racetrack.io API.

``KINDS`` is what the CRD generator renders, in this order.
"""

from __future__ import annotations

from racetrack_api.meta import CustomResource
from racetrack_api.v1alpha1.auditevent import AuditEvent
from racetrack_api.v1alpha1.externalserviceconsumer import ExternalServiceConsumer
from racetrack_api.v1alpha1.job import Job
from racetrack_api.v1alpha1.jobfamily import JobFamily
from racetrack_api.v1alpha1.maintenance import Maintenance
from racetrack_api.v1alpha1.permission import Permission
from racetrack_api.v1alpha1.user import User

VERSION = "v1alpha1"
API_VERSION = f"racetrack.io/{VERSION}"

KINDS: tuple[type[CustomResource], ...] = (
    Job,
    JobFamily,
    ExternalServiceConsumer,
    Permission,
    User,
    Maintenance,
    AuditEvent,
)

__all__ = [
    "API_VERSION",
    "KINDS",
    "VERSION",
    "AuditEvent",
    "ExternalServiceConsumer",
    "Job",
    "JobFamily",
    "Maintenance",
    "Permission",
    "User",
]
