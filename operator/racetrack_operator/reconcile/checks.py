"""Problems only the world can tell: each read here is the cheapest that answers."""

from __future__ import annotations

from racetrack_api.v1alpha1 import Job
from racetrack_kube import client, paths
from racetrack_operator.render.problems import Problem, missing_secret


async def secret_problem(kube: client.Api, job: Job) -> Problem | None:
    """The first Secret the Job names that does not exist (a build pod or a job pod would
    wait for it without a word)."""
    spec = job.spec
    refs = [(spec.secret_runtime_env, "spec.secretRuntimeEnv")]
    if spec.git is not None or spec.source is not None:
        refs.append((spec.secret_build_env, "spec.secretBuildEnv"))
        refs.append((spec.git.credentials if spec.git else None, "spec.git.credentials"))
    for ref, field in refs:
        if ref is None or job.namespace is None:
            continue
        # Metadata only: the operator needs to know the Secret exists, never what it holds.
        path = paths.secrets(job.namespace, ref.name)
        if await kube.get(path, accept=client.PARTIAL_METADATA) is None:
            return missing_secret(job.namespace, ref.name, field)
    return None
