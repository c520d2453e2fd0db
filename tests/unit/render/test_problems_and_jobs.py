"""What stops a Job (pure spec checks) and which watch events call for a reconciliation."""

from __future__ import annotations

from pathlib import Path

import yaml

from racetrack_api import conditions as c
from racetrack_api.jobtypes import resolve_job_type
from racetrack_api.v1alpha1 import Job
from racetrack_operator.render.jobs import (
    needs_apply,
    parse_job,
    slim_metadata,
    without_bookkeeping,
)
from racetrack_operator.render.problems import Problem, spec_problem
from racetrack_operator.settings import Settings

ADDER = Path(__file__).resolve().parents[3] / "examples" / "adder.yaml"
SETTINGS = Settings()


def _job(**spec: object) -> Job:
    raw = yaml.safe_load(ADDER.read_text())
    raw["spec"].update(spec)
    return Job.model_validate(raw)


def test_a_deployable_job_resolves_to_its_job_type() -> None:
    assert spec_problem(_job(), SETTINGS) == resolve_job_type("python3:1.0.0")


def test_spec_problems_name_the_reason_and_the_fix() -> None:
    unknown = spec_problem(_job(jobtype="cobol:1.0.0"), SETTINGS)
    assert isinstance(unknown, Problem) and unknown.reason == c.REASON_UNKNOWN_JOB_TYPE
    assert "python3:1.0.0" in unknown.message and not unknown.retry
    missing = spec_problem(_job(jobtypeExtra={"entrypoint_class": "Adder"}), SETTINGS)
    assert isinstance(missing, Problem) and missing.reason == c.REASON_INVALID_SPEC
    assert "entrypoint_path" in missing.message
    # A Job built from source has no spec problem of its own: its build says the rest.
    git = spec_problem(_job(image=None, git={"remote": "https://example.org/adder"}), SETTINGS)
    assert git == resolve_job_type("python3:1.0.0")


def test_a_proxy_job_type_needs_the_runtime_image_setting() -> None:
    proxied = _job(jobtype="docker-proxy:3.2.2", jobtypeExtra={"user_module_port": 7004})
    unavailable = spec_problem(proxied, SETTINGS)
    assert isinstance(unavailable, Problem)
    assert unavailable.reason == c.REASON_JOB_TYPE_UNAVAILABLE and not unavailable.retry
    assert "RACETRACK_JOB_RUNTIME_IMAGE" in unavailable.message
    runnable = spec_problem(proxied, Settings(job_runtime_image="registry.local/python3-base:1"))
    assert runnable == resolve_job_type("docker-proxy:3.2.2")
    rewrite = spec_problem(
        _job(jobtype="docker-proxy:latest", jobtypeExtra={"proxy_mode": "rewrite"}), SETTINGS
    )
    assert isinstance(rewrite, Problem) and rewrite.reason == c.REASON_INVALID_SPEC
    assert rewrite.message == (
        "spec.jobtypeExtra: job type docker-proxy:4.0.0 supports jobtype_extra.proxy_mode "
        "forward, not 'rewrite'; set one of those or leave it out"
    )


def test_needs_apply_ignores_our_own_status_writes() -> None:
    raw = yaml.safe_load(ADDER.read_text())
    raw["metadata"].update(uid="u1", generation=1, managedFields=[{"manager": "kubectl"}])
    known, problem = parse_job(raw)
    assert problem is None and "managedFields" not in known.metadata
    assert needs_apply(None, False, raw)
    assert not needs_apply(known, True, {**raw, "status": {"replicas": 2}})
    assert needs_apply(known, True, {**raw, "metadata": {**raw["metadata"], "generation": 2}})
    assert needs_apply(known, True, {**raw, "metadata": {**raw["metadata"], "uid": "u2"}})
    redeploy = {"annotations": {"racetrack.io/redeploy-at": "now"}}
    assert needs_apply(known, True, {**raw, "metadata": {**raw["metadata"], **redeploy}})


def test_a_job_only_observed_through_its_deployment_still_needs_applying() -> None:
    # After a restart a Deployment event may load the Job before the Job's own first event;
    # skipping it then would leave children the killed operator never made (its Service).
    raw = yaml.safe_load(ADDER.read_text())
    raw["metadata"].update(uid="u1", generation=1)
    observed, _ = parse_job(raw)
    assert needs_apply(observed, False, raw)
    deleting = {**raw, "metadata": {**raw["metadata"], "deletionTimestamp": "2026-11-25T12:00:00Z"}}
    assert not needs_apply(observed, False, deleting)


def test_slim_metadata_keeps_only_what_the_operator_reads() -> None:
    meta = {
        "name": "a",
        "uid": "u",
        "managedFields": [{}],
        "annotations": {"racetrack.io/redeploy-at": "1", "kubectl.kubernetes.io/last": "{}"},
    }
    assert slim_metadata(meta) == {
        "name": "a",
        "uid": "u",
        "annotations": {"racetrack.io/redeploy-at": "1"},
    }


def test_a_waiting_job_sheds_its_bookkeeping_but_keeps_what_a_reconciliation_reads() -> None:
    raw = yaml.safe_load(ADDER.read_text())
    raw["metadata"].update(
        uid="u",
        generation=2,
        deletionTimestamp="2026-12-01T10:00:00Z",
        finalizers=["example.com/hold"],
        managedFields=[{"manager": "kubectl"}],
        annotations={
            "kubectl.kubernetes.io/last-applied-configuration": "{}",
            "racetrack.io/redeploy-at": "1",
        },
    )
    raw["status"] = {"observedGeneration": 1}
    kept = without_bookkeeping(raw)
    assert "managedFields" not in kept["metadata"]
    assert kept["metadata"]["annotations"] == {"racetrack.io/redeploy-at": "1"}
    for field in ("name", "uid", "generation", "deletionTimestamp", "finalizers"):
        assert kept["metadata"][field] == raw["metadata"][field]
    assert (kept["spec"], kept["status"]) == (raw["spec"], raw["status"])
    assert parse_job(kept)[0] == parse_job(raw)[0]


def test_a_job_our_models_refuse_is_kept_with_the_reason() -> None:
    raw = yaml.safe_load(ADDER.read_text())
    raw["spec"]["replicas"] = 99  # the CRD would refuse it; an older CRD might not have
    job, problem = parse_job(raw)
    assert problem is not None and problem.reason == c.REASON_INVALID_SPEC
    assert "spec.replicas" in problem.message
    assert (job.spec.name, job.spec.version) == ("adder", "1.0.0")
