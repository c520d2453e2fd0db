"""Generated worlds of Permissions, families and calls, shared by the gateway's tests.

The unit tests compare the gateway's permission tables with
``racetrack_api.permissions.allowed`` over thousands of these; the HAProxy tests replay a
few hundred through a real HAProxy. Same seed, same cases.
"""

from __future__ import annotations

import dataclasses
import random
from typing import Any

from racetrack_api.permissions import (
    DEFAULT_PLATFORM_NAMESPACE,
    Grant,
    SubjectRef,
    allowed,
    grant_of,
)
from racetrack_api.v1alpha1 import Permission
from racetrack_api.v1alpha1.permission import Scope, SubjectKind
from racetrack_gateway import model
from racetrack_gateway.model import Family, Version

NAMESPACES = ("ns-a", "ns-b")
PLATFORM = DEFAULT_PLATFORM_NAMESPACE
FAMILY_NAMES = ("adder", "scorer", "chain")
VERSIONS = ("0.9.0", "1.0.0", "1.2.0", "1.2.10", "2.0.0", "2.0.0-rc.1", "10.1.3")
VERSION_GRANTS = ("1.0.0", "1.x", "1.2.x", "x", "2.x", "x.0", "2.0.0-rc.1", "9.9.9", "x.2.x")
ENDPOINT_GRANTS = ("/", "/api", "/api/v1/perform", "/api/v1/perform/", "/api/v1/perf", "/x")
PATHS = (
    "",
    "/",
    "/api",
    "/api/",
    "/api/v1/perform",
    "/api/v1/perform/",
    "/api/v1/perform/a/b",
    "/api/v1/performance",
    "/api/v1/perf",
    "/x/y",
    "/health",
)
SUBJECTS = (
    SubjectRef(SubjectKind.USER, "alice"),
    SubjectRef(SubjectKind.USER, "bob"),
    SubjectRef(SubjectKind.EXTERNAL_SERVICE_CONSUMER, "portal", "ns-a"),
    SubjectRef(SubjectKind.EXTERNAL_SERVICE_CONSUMER, "portal", "ns-b"),
    SubjectRef(SubjectKind.JOB_FAMILY, "chain", "ns-a"),
)


@dataclasses.dataclass(frozen=True)
class Call:
    subject: SubjectRef
    family: str
    version: str
    path: str


@dataclasses.dataclass
class World:
    families: dict[str, Family]
    permissions: list[dict[str, Any]]
    calls: list[Call]

    def grants(self) -> list[Grant]:
        """Every Permission, as ``allowed`` takes them."""
        return [grant_of(Permission.model_validate(raw)) for raw in self.permissions]

    def call_grants(self) -> list[Grant]:
        """The Permissions the gateway keeps (those that allow calls)."""
        found = (model.call_grant(raw, PLATFORM) for raw in self.permissions)
        return [grant for grant in found if grant is not None]

    def expected(self, call: Call, grants: list[Grant]) -> bool:
        """What ``racetrack_api.permissions.allowed`` says about ``call``."""
        family = self.families[call.family]
        return allowed(call.subject, Scope.CALL_JOB, family.namespace, call.family,
                       call.version, call.path, grants)  # fmt: skip


def _permission(rng: random.Random, index: int) -> dict[str, Any]:
    subject = rng.choice(SUBJECTS)
    namespace = rng.choice((*NAMESPACES, PLATFORM))
    spec_subject: dict[str, Any] = {"kind": subject.kind.value, "name": subject.name}
    if subject.namespace is not None and (subject.namespace != namespace or rng.random() < 0.3):
        spec_subject["namespace"] = subject.namespace
    resource: dict[str, Any] = {}
    if rng.random() < 0.7:
        resource["family"] = rng.choice(FAMILY_NAMES)
        if rng.random() < 0.5:
            resource["version"] = rng.choice(VERSION_GRANTS)
    if rng.random() < 0.5:
        resource["endpoint"] = rng.choice(ENDPOINT_GRANTS)
    scope = rng.choice(
        [Scope.CALL_JOB, Scope.CALL_JOB, Scope.FULL_ACCESS, Scope.READ_JOB, Scope.DEPLOY_JOB]
    )
    return {
        "apiVersion": "racetrack.io/v1alpha1",
        "kind": "Permission",
        "metadata": {"name": f"p{index}", "namespace": namespace},
        "spec": {"subject": spec_subject, "scope": scope.value, "resource": resource},
    }


def world(seed: int, permissions: int = 6, calls: int = 40) -> World:
    rng = random.Random(seed)
    families = {}
    for name in FAMILY_NAMES:
        versions = sorted(rng.sample(VERSIONS, rng.randint(1, 4)))
        families[name] = Family(
            rng.choice(NAMESPACES),
            name,
            tuple(Version(v, f"{name}-{i}", True, "127.0.0.1:1") for i, v in enumerate(versions)),
        )
    perms = [_permission(rng, i) for i in range(permissions)]
    out = []
    for _ in range(calls):
        family = families[rng.choice(FAMILY_NAMES)]
        version = rng.choice(family.versions).version
        out.append(Call(rng.choice(SUBJECTS), family.name, version, rng.choice(PATHS)))
    return World(families, perms, out)
