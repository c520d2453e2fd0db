"""Who may do what: one matcher for the gateway (calls) and the admission webhooks (deploys).

A ``Permission`` says "SUBJECT can SCOPE on RESOURCE". Its namespace is part of the resource:
it grants on the jobs of its own namespace, and a Permission in the platform namespace
(``racetrack-system`` by default, where only cluster admins write) grants on the jobs of
every namespace, as a ClusterRole does beside Roles. Users are cluster-wide and named by
their User object; ExternalServiceConsumers and JobFamilies are named in the Permission's
namespace unless ``subject.namespace`` says otherwise.

The resource narrows by family, version and endpoint, each optional; empty means all,
including versions deployed later. A version is exact (``1.2.3``) or a wildcard in the
original's form (``1.x``, ``1.2.x``, ``x``: each ``x`` stands for one or more characters).
An endpoint is a path prefix that ends at a segment boundary: ``/api/v1/perform`` grants
``/api/v1/perform`` and ``/api/v1/perform/x``, not ``/api/v1/performance``. ``full_access``
includes every scope. Job-to-job permission is one way: it names the calling family as the
subject and the called family as the resource.

Unlike the original, a grant on one job version never matches another family that happens to
share the version string: family and version are always compared together.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable

from racetrack_api.v1alpha1.permission import Permission, Scope, SubjectKind

#: Where Permissions apply to every namespace (a setting of the deployables that read them).
DEFAULT_PLATFORM_NAMESPACE = "racetrack-system"


@dataclasses.dataclass(frozen=True, order=True)
class SubjectRef:
    """A caller as the matcher knows it; ``namespace`` is None for Users (cluster-wide)."""

    kind: SubjectKind
    name: str
    namespace: str | None = None

    def describe(self) -> str:
        """The original's words for a caller: ``User a``, ``ESC b``, ``Job family c``."""
        label = {
            SubjectKind.USER: "User",
            SubjectKind.EXTERNAL_SERVICE_CONSUMER: "ESC",
            SubjectKind.JOB_FAMILY: "Job family",
        }[self.kind]
        return f"{label} {self.name}"


@dataclasses.dataclass(frozen=True)
class Grant:
    """One Permission, flattened: who, what, and where (``namespace`` None: every namespace)."""

    subject: SubjectRef
    scope: Scope
    namespace: str | None
    family: str | None = None
    version: str | None = None
    endpoint: str | None = None


def grant_of(permission: Permission, platform_namespace: str = DEFAULT_PLATFORM_NAMESPACE) -> Grant:
    spec = permission.spec
    own_namespace = permission.namespace
    subject_namespace = None
    if spec.subject.kind != SubjectKind.USER:
        subject_namespace = spec.subject.namespace or own_namespace
    return Grant(
        subject=SubjectRef(spec.subject.kind, spec.subject.name, subject_namespace),
        scope=spec.scope,
        namespace=None if own_namespace == platform_namespace else own_namespace,
        family=spec.resource.family,
        version=spec.resource.version,
        endpoint=spec.resource.endpoint,
    )


def allowed(
    subject: SubjectRef,
    scope: Scope,
    namespace: str,
    family: str,
    version: str | None,
    endpoint: str | None,
    grants: Iterable[Grant],
) -> bool:
    """Whether any of ``grants`` lets ``subject`` do ``scope`` on that job (and endpoint).

    ``version`` None asks about the family as a whole (creating a new family): only grants
    not narrowed to a version match. ``endpoint`` None asks about no endpoint in particular
    (deploying, deleting): only grants not narrowed to an endpoint match.
    """
    return any(
        grant.subject == subject
        and grant.scope in (scope, Scope.FULL_ACCESS)
        and grant.namespace in (None, namespace)
        and grant.family in (None, family)
        and (
            grant.version is None
            or (version is not None and version_matches(grant.version, version))
        )
        and (
            grant.endpoint is None
            or (endpoint is not None and endpoint_matches(grant.endpoint, endpoint))
        )
        for grant in grants
    )


_WILDCARD = re.compile(r"^(\d+|x)(\.(\d+|x))*$")


def is_version_wildcard(pattern: str) -> bool:
    """``1.x``, ``1.2.x``, ``x``: dotted numbers and at least one ``x`` (the original's rule)."""
    return "x" in pattern.split(".") and _WILDCARD.match(pattern) is not None


def version_matches(pattern: str, version: str) -> bool:
    """Exact equality, or the original's wildcard (each ``x`` stands for one or more characters)."""
    if not is_version_wildcard(pattern):
        return pattern == version
    regex = r"\.".join(".+" if part == "x" else re.escape(part) for part in pattern.split("."))
    return re.fullmatch(regex, version) is not None


def normalize_endpoint(path: str) -> str:
    """A request path as permissions compare it: a leading ``/``, no trailing ``/``."""
    path = "/" + path.lstrip("/")
    return path.rstrip("/") or "/"


def endpoint_matches(prefix: str, path: str) -> bool:
    """``path`` is ``prefix`` or below it, at a segment boundary."""
    prefix, path = normalize_endpoint(prefix), normalize_endpoint(path)
    return prefix == "/" or path == prefix or path.startswith(prefix + "/")
