"""What ``racetrack registry clean`` deletes, and why: a pure function of the registry's job
image tags, the Jobs and running Pods of the cluster, and how many tags to keep per family.

Built images are ``PREFIX/FAMILY:VERSION-REVISION``. A tag is deleted only when its family or
its version no longer exists (no JobFamily and no Job of that family; no Job of that family
and version), nothing names or runs it, and it is not one of the ``keep`` newest tags of
its family (by version, semver order). The registry deletes manifests by digest, with every
tag naming them, so tags sharing a digest with a kept tag are kept too.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from racetrack_api.semver import semver_key

_REVISION = re.compile(r"^[0-9a-f]{12}$")
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")


@dataclass(frozen=True)
class TaggedImage:
    """One tag of a job image repository, and the manifest digest it names."""

    repository: str
    family: str
    tag: str
    digest: str

    @property
    def version(self) -> str:
        return version_of(self.tag)


@dataclass(frozen=True)
class InUse:
    """An image something names or runs (``by``: "Job ml/adder-v1", "Pod ml/adder-v1-5d9").

    The registry host is left out: Jobs name images by the host nodes pull from, which may
    differ from the address the cleaner reaches the registry at.
    """

    repository: str
    tag: str | None
    digest: str | None
    by: str


@dataclass(frozen=True)
class Cluster:
    """What exists in the cluster: job families, versions of each, images in use."""

    families: frozenset[str]
    versions: dict[str, frozenset[str]]
    in_use: tuple[InUse, ...] = field(default=())


@dataclass(frozen=True)
class Decision:
    image: TaggedImage
    delete: bool
    reason: str


def version_of(tag: str) -> str:
    """``1.2.0-44633aa4f210`` -> ``1.2.0``; a tag without a revision is its own version."""
    version, dash, revision = tag.rpartition("-")
    return version if dash and _REVISION.match(revision) else tag


def family_of(repository: str, prefix: str) -> str | None:
    """The family of a job image repository under ``prefix``; None for any other."""
    head = prefix.strip("/") + "/"
    if not repository.startswith(head):
        return None
    family = repository[len(head) :]
    return family if family and "/" not in family else None


def parse_image(text: str) -> tuple[str, str | None, str | None]:
    """``host/repo:tag@sha256:...`` (or a Pod's imageID, ``docker-pullable://...``) as
    (repository, tag, digest); the host is dropped when the first part looks like one."""
    rest = text.split("://", 1)[-1]
    found = _DIGEST.search(rest)
    digest = found.group(0) if found else None
    rest = rest.split("@", 1)[0]
    first, slash, path = rest.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost"):
        rest = path
    tag = None
    last = rest.rsplit("/", 1)[-1]
    if ":" in last:
        rest, _, tag = rest.rpartition(":")
    return rest, tag, digest


def in_use_by_job(job: dict[str, Any]) -> list[InUse]:
    """The images a Job names: the prebuilt ``spec.image``, what it runs, what it built."""
    meta = job.get("metadata") or {}
    by = f"Job {meta.get('namespace')}/{meta.get('name')}"
    status = job.get("status") or {}
    texts = [
        (job.get("spec") or {}).get("image"),
        status.get("image"),
        (status.get("build") or {}).get("image"),
    ]
    return [InUse(*parse_image(text), by) for text in texts if text]


def in_use_by_pod(pod: dict[str, Any]) -> list[InUse]:
    """The images of a Pod that is not finished (every container, init containers too)."""
    if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
        return []
    meta = pod.get("metadata") or {}
    by = f"Pod {meta.get('namespace')}/{meta.get('name')}"
    spec = pod.get("spec") or {}
    status = pod.get("status") or {}
    texts = [c.get("image") for c in (spec.get("containers") or [])]
    texts += [c.get("image") for c in (spec.get("initContainers") or [])]
    for key in ("containerStatuses", "initContainerStatuses"):
        texts += [c.get("imageID") for c in (status.get(key) or [])]
    return [InUse(*parse_image(text), by) for text in texts if text]


def cluster_state(
    families: Iterable[str], jobs: Iterable[dict[str, Any]], pods: Iterable[dict[str, Any]]
) -> Cluster:
    """The cluster as the plan sees it, from JobFamily names and Job and Pod objects."""
    names = set(families)
    versions: dict[str, set[str]] = {}
    in_use: list[InUse] = []
    for job in jobs:
        spec = job.get("spec") or {}
        if spec.get("name"):
            names.add(spec["name"])
            versions.setdefault(spec["name"], set()).add(str(spec.get("version")))
        in_use += in_use_by_job(job)
    for pod in pods:
        in_use += in_use_by_pod(pod)
    return Cluster(frozenset(names), {k: frozenset(v) for k, v in versions.items()}, tuple(in_use))


def plan(images: Iterable[TaggedImage], cluster: Cluster, keep: int) -> list[Decision]:
    """A decision for every tag, families in name order, each family newest first."""
    if keep < 0:
        raise ValueError("keep must be 0 or more")
    by_family: dict[str, list[TaggedImage]] = {}
    for image in images:
        by_family.setdefault(image.family, []).append(image)
    decisions: list[Decision] = []
    for family in sorted(by_family):
        newest_first = sorted(
            by_family[family], key=lambda i: (semver_key(i.version), i.tag), reverse=True
        )
        first = [
            _decide(image, cluster, rank < keep, keep) for rank, image in enumerate(newest_first)
        ]
        decisions += _keep_shared_digests(first)
    return decisions


def _decide(image: TaggedImage, cluster: Cluster, recent: bool, keep: int) -> Decision:
    user = next((u for u in cluster.in_use if _names(u, image)), None)
    if user is not None:
        return Decision(image, False, f"in use by {user.by}")
    if recent:
        newest = "the newest tag" if keep == 1 else f"one of the {keep} newest tags"
        return Decision(image, False, f"{newest} of family {image.family}")
    if image.family not in cluster.families:
        return Decision(image, True, f"family {image.family} no longer exists")
    if image.version not in cluster.versions.get(image.family, frozenset()):
        return Decision(
            image, True, f"version {image.version} of family {image.family} no longer exists"
        )
    return Decision(image, False, f"version {image.version} of family {image.family} exists")


def _names(user: InUse, image: TaggedImage) -> bool:
    if user.repository != image.repository:
        return False
    if user.digest is not None:
        return user.digest == image.digest
    return user.tag == image.tag


def _keep_shared_digests(decisions: list[Decision]) -> list[Decision]:
    kept: dict[str, str] = {}
    for decision in decisions:
        if not decision.delete:
            kept.setdefault(decision.image.digest, decision.image.tag)
    return [
        Decision(
            d.image,
            False,
            f"names the same manifest as {kept[d.image.digest]}, which is kept",
        )
        if d.delete and d.image.digest in kept
        else d
        for d in decisions
    ]
