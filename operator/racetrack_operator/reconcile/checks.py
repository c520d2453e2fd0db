"""Problems only the world can tell: each read here is the cheapest that answers."""

from __future__ import annotations

from racetrack_api.v1alpha1 import Job
from racetrack_kube import client, paths
from racetrack_operator.render.problems import Problem, missing_secret


async def secret_problem(kube: client.Api, job: Job) -> Problem | None:
    ref = job.spec.secret_runtime_env
    if ref is None or job.namespace is None:
        return None
    # Metadata only: the operator needs to know the Secret exists, never what it holds.
    found = await kube.get(paths.secrets(job.namespace, ref.name), accept=client.PARTIAL_METADATA)
    if found is not None:
        return None
    return missing_secret(job.namespace, ref.name, "spec.secretRuntimeEnv")
