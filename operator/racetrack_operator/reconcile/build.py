"""Build a Job's image: start its batch Job, follow it, say what came of it.

One build per Job at a time: the batch Job is named after the build's inputs, so a Job
whose inputs changed gets a new one and the superseded build is deleted (a newer spec makes
it pointless). Across the cluster at most ``max_concurrent_builds`` run; the others wait in
``BuildSlots`` and are woken, oldest first, as builds finish. The outcome of a build is kept
in the Job's ``status.build``, so a built Job costs no reads on the next reconciliation
(an operator restart over a thousand built Jobs reads no batch Job).

A build that fails keeps the Job's Deployment as it was: the previous version goes on
serving, and the Job is Stalled until its spec changes or ``racetrack.io/rebuild-at`` is set.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Hashable

from racetrack_api import conditions as c
from racetrack_api.jobtypes import JobType
from racetrack_api.labels import LABEL_BUILD_OF, LABEL_MANAGED_BY, MANAGED_BY
from racetrack_api.v1alpha1 import Job
from racetrack_api.v1alpha1.job import BuildStatus
from racetrack_kube import client, paths
from racetrack_operator.render import build as render
from racetrack_operator.render import buildstatus
from racetrack_operator.render.problems import Problem
from racetrack_operator.render.status import Value
from racetrack_operator.settings import Settings

log = logging.getLogger(__name__)

#: Selects every build the operator started (its batch Jobs and their pods).
BUILD_SELECTOR = f"{LABEL_MANAGED_BY}={MANAGED_BY},app.kubernetes.io/component={render.COMPONENT}"
#: The label the Job controller puts on a batch Job's pods.
JOB_NAME_LABEL = "batch.kubernetes.io/job-name"


@dataclasses.dataclass(frozen=True)
class BuildOutcome:
    """Where a Job's build stands, for its status and its Deployment."""

    status: BuildStatus | None = None
    built: Value | None = None
    #: The image to deploy: set only when built from the Job's current inputs.
    image: str | None = None
    #: Why the Job cannot progress (a missing setting, a build that failed for good).
    problem: Problem | None = None
    #: Still running: look at its pods again soon (its step may change).
    running: bool = False


class BuildSlots:
    """Builds running in the cluster, and the Jobs waiting for one to finish."""

    def __init__(self) -> None:
        self.running: set[Hashable] = set()
        self.waiting: dict[tuple[str, str], None] = {}

    def try_start(self, build: Hashable, job: tuple[str, str], limit: int) -> bool:
        if build in self.running:
            return True
        if len(self.running) >= limit:
            self.waiting[job] = None
            return False
        self.waiting.pop(job, None)
        self.running.add(build)
        return True

    def seen_running(self, build: Hashable) -> None:
        """A build found running (one started before this process, or by a watch event)."""
        self.running.add(build)

    def finished(self, build: Hashable) -> None:
        self.running.discard(build)

    def take_waiting(self, limit: int) -> list[tuple[str, str]]:
        """The oldest waiting Jobs that may start now, removed from the queue."""
        free = max(0, limit - len(self.running))
        taken = list(self.waiting)[:free]
        for job in taken:
            del self.waiting[job]
        return taken

    def forget(self, job: tuple[str, str]) -> None:
        self.waiting.pop(job, None)


def recorded(job: Job, job_type: JobType, settings: Settings) -> BuildOutcome:
    """What the Job's status says of its build, with no reads: enough for a status refresh
    (and for a Job built from its current inputs, for everything)."""
    plan = render.build_plan(job, job_type, settings)
    if isinstance(plan, Problem):
        return BuildOutcome(problem=plan)
    return _from_status(job, plan)


def _from_status(job: Job, plan: render.BuildPlan) -> BuildOutcome:
    previous = job.status.build
    if previous is None or previous.inputs != plan.inputs:
        return BuildOutcome()
    condition = c.find(job.status.conditions, c.BUILT)
    if condition is None:
        return BuildOutcome(previous)
    value = Value(condition.status, condition.reason, condition.message)
    if previous.image and value.status == "True":
        return BuildOutcome(previous, value, previous.image)
    if previous.finished_at:
        return BuildOutcome(previous, value, problem=buildstatus.failure_problem(value))
    return BuildOutcome(previous, value)


async def ensure_build(
    kube: client.Api, slots: BuildSlots, settings: Settings, job: Job, job_type: JobType
) -> BuildOutcome:
    """Start the Job's build unless its current inputs are built or being built; report."""
    plan = render.build_plan(job, job_type, settings)
    if isinstance(plan, Problem):
        return BuildOutcome(problem=plan)
    known = _from_status(job, plan)
    if known.image is not None:
        return known
    namespace = str(job.namespace)
    name = render.build_job_name(job, plan.inputs)
    batch = await kube.get(paths.batch_jobs(namespace, name))
    if batch is None:
        if known.status is not None and known.status.finished_at and known.built is not None:
            return known  # failed for good, and its batch Job has been deleted since
        await _delete_superseded(kube, slots, job, name)
        if not slots.try_start(
            (namespace, name), (namespace, job.name), settings.max_concurrent_builds
        ):
            status = buildstatus.queued_status(plan.inputs, name)
            value = buildstatus.built(
                None, status, running=len(slots.running), limit=settings.max_concurrent_builds
            )
            return BuildOutcome(status, value)
        body = render.desired_build_job(job, plan, settings)
        batch = await kube.create(paths.batch_jobs(namespace), body) or await kube.get(
            paths.batch_jobs(namespace, name)
        )
        if batch is None:
            raise RuntimeError(f"batch Job {namespace}/{name} was created but cannot be read")
        log.info("Started build %s/%s of Job %s.", namespace, name, job.name)
    pods = await kube.list_objects(paths.pods(namespace), label_selector=f"{JOB_NAME_LABEL}={name}")
    observation = buildstatus.observe(batch, pods)
    if observation.outcome == "running":
        slots.seen_running((namespace, name))
    else:
        slots.finished((namespace, name))
    status = buildstatus.build_status(observation, plan.inputs, settings.registry, plan.repository)
    value = buildstatus.built(observation, status, timeout_seconds=settings.build_timeout_seconds)
    return BuildOutcome(
        status,
        value,
        image=status.image if value.status == "True" else None,
        problem=buildstatus.failure_problem(value),
        running=observation.outcome == "running",
    )


async def _delete_superseded(kube: client.Api, slots: BuildSlots, job: Job, keep: str) -> None:
    """Delete the Job's other builds: their inputs are not the Job's any more."""
    namespace = str(job.namespace)
    others = await kube.list_objects(
        paths.batch_jobs(namespace), label_selector=f"{BUILD_SELECTOR},{LABEL_BUILD_OF}={job.name}"
    )
    for other in others:
        name = str(other["metadata"]["name"])
        if name != keep:
            await kube.delete(paths.batch_jobs(namespace, name))
            slots.finished((namespace, name))
            log.info("Deleted superseded build %s/%s of Job %s.", namespace, name, job.name)


async def running_builds(kube: client.Api, namespaces: tuple[str, ...]) -> list[tuple[str, str]]:
    """The builds running now (read once at start, before any Job asks for a slot)."""
    found = []
    for namespace in namespaces or (None,):
        for batch in await kube.list_objects(
            paths.batch_jobs(namespace), label_selector=BUILD_SELECTOR
        ):
            if not buildstatus.finished(batch):
                meta = batch["metadata"]
                found.append((str(meta["namespace"]), str(meta["name"])))
    return found
