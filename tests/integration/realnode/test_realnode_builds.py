"""Images built for real on the real node: from the dev git server and from a local folder
(python3, layer composition), from a Dockerfile (rootless BuildKit), and builds that fail.

Everything is local: sources come from the dev cluster's git server or registry, the one
requirement from its wheel folder, base images from its registry; the operator runs as
``racetrack dev up`` runs it (with one retry instead of three, see ``operator_cluster``).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from build_helpers import (  # type: ignore[import-not-found]
    JOBS,
    build_jobs,
    condition,
    handle,
    job_manifest,
    job_object,
    perform,
    provide_greeting_wheel,
    push_job,
    wait_built_false,
    wait_ready,
)
from realnode_helpers import eventually  # type: ignore[import-not-found]

from racetrack_cli import source as source_command
from racetrack_devcluster.launcher import LocalCluster

pytestmark = [pytest.mark.cluster, pytest.mark.realnode]

PYTHON3 = {"jobtype": "python3:1.0.0"}
GREETER_EXTRA = {"entrypoint_path": "entrypoint.py", "requirements_path": "requirements.txt"}


def test_a_python3_job_from_the_dev_git_server_is_built_and_performs(
    operator_cluster: LocalCluster, tmp_path: Path
) -> None:
    cluster = operator_cluster
    provide_greeting_wheel(cluster)
    commit = push_job(cluster, "greeter", "greeter", tmp_path)
    remote = f"{handle(cluster).git_url}/greeter.git"
    manifest = job_manifest(
        "greeter", "1.0.0", **PYTHON3, git={"remote": remote}, jobtypeExtra=GREETER_EXTRA
    )
    cluster.kubectl("apply", "-f", "-", input=manifest)
    job = wait_ready(cluster, "greeter-v1-0-0")
    assert perform(cluster, "greeter-v1-0-0", {"name": "racetrack"}) == "Hello, racetrack!"

    build = job["status"]["build"]
    assert build["revision"] == commit
    assert job["status"]["image"] == build["image"]
    assert build["image"].startswith(
        f"{handle(cluster).registry_host}/racetrack/jobs/greeter:1.0.0-{commit[:12]}@sha256:"
    )
    assert condition(job, "Built")["reason"] == "BuildSucceeded"
    assert {"clone", "dependencies", "layers", "push"} <= set(build["durations"])
    described = cluster.kubectl("describe", "rtjob/greeter-v1-0-0").stdout
    assert "BuildStarted" in described and "BuildSucceeded" in described

    # Applied again unchanged, even redeployed: nothing is built again.
    [first] = build_jobs(cluster, "greeter-v1-0-0")
    cluster.kubectl("apply", "-f", "-", input=manifest)
    cluster.kubectl("annotate", "rtjob/greeter-v1-0-0", "racetrack.io/redeploy-at=1")

    def redeployed() -> bool:
        """the operator rendered the Deployment again (the same pass decides on builds)"""
        template = cluster.kubectl(
            "get", "deployment/greeter-v1-0-0", "-o",
            "jsonpath={.spec.template.metadata.annotations.racetrack\\.io/redeploy-at}",
        ).stdout  # fmt: skip
        return template == "1"

    eventually(redeployed)
    assert build_jobs(cluster, "greeter-v1-0-0") == [first]


def test_a_python3_job_from_a_local_folder_is_built_and_performs(
    operator_cluster: LocalCluster,
) -> None:
    cluster = operator_cluster
    provide_greeting_wheel(cluster)
    pushed = source_command.push_folder(JOBS / "greeter", handle(cluster).registry_host)
    manifest = job_manifest(
        "greeter", "2.0.0", **PYTHON3, source={"artifact": str(pushed.reference)},
        jobtypeExtra=GREETER_EXTRA,
    )  # fmt: skip
    cluster.kubectl("apply", "-f", "-", input=manifest)
    job = wait_ready(cluster, "greeter-v2-0-0")
    assert job["status"]["build"]["revision"] == pushed.reference.digest
    assert perform(cluster, "greeter-v2-0-0", {"name": "folder"}) == "Hello, folder!"


def test_a_requirement_that_does_not_install_fails_the_build_and_the_old_image_serves(
    operator_cluster: LocalCluster, tmp_path: Path
) -> None:
    cluster = operator_cluster
    provide_greeting_wheel(cluster)
    push_job(cluster, "greeter", "greeter-broken", tmp_path)
    remote = f"{handle(cluster).git_url}/greeter-broken.git"
    spec = {**PYTHON3, "git": {"remote": remote}}
    cluster.kubectl("apply", "-f", "-", input=job_manifest("greeter", "3.0.0", **spec,
                                                           jobtypeExtra=GREETER_EXTRA))  # fmt: skip
    served = wait_ready(cluster, "greeter-v3-0-0")["status"]["image"]

    broken = {**GREETER_EXTRA, "requirements_path": "broken-requirements.txt"}
    cluster.kubectl("apply", "-f", "-", input=job_manifest("greeter", "3.0.0", **spec,
                                                           jobtypeExtra=broken))  # fmt: skip
    job = wait_built_false(cluster, "greeter-v3-0-0")
    built = condition(job, "Built")
    assert built["reason"] == "DependenciesFailed"
    assert "No matching distribution found for racetrack-no-such-package==9.9.9" in built["message"]
    assert condition(job, "Stalled")["reason"] == "DependenciesFailed"
    assert job["status"]["build"]["step"] == "dependencies"
    described = cluster.kubectl("describe", "rtjob/greeter-v3-0-0").stdout
    assert "racetrack-no-such-package" in described and "BuildFailed" in described
    # The previous version still runs and answers.
    assert job["status"]["image"] == served
    assert condition(job, "Available")["status"] == "True"
    assert perform(cluster, "greeter-v3-0-0", {"name": "still"}) == "Hello, still!"


def test_a_docker_http_job_is_built_by_buildkit_and_answers(
    operator_cluster: LocalCluster, tmp_path: Path
) -> None:
    cluster = operator_cluster
    commit = push_job(cluster, "multiplier", "multiplier", tmp_path)
    remote = f"{handle(cluster).git_url}/multiplier.git"
    manifest = job_manifest(
        "multiplier", "1.0.0", jobtype="docker-http:1.0.0", git={"remote": remote}
    )
    cluster.kubectl("apply", "-f", "-", input=manifest)
    job = wait_ready(cluster, "multiplier-v1-0-0", timeout=300)
    assert job["status"]["build"]["revision"] == commit
    assert perform(cluster, "multiplier-v1-0-0", {"a": 6, "b": 7}, path="/") == 42
    [build] = build_jobs(cluster, "multiplier-v1-0-0")
    logs = cluster.kubectl("logs", build, "-c", "dockerfile").stdout
    assert "RUN python3 -c" in logs  # BuildKit ran the Dockerfile's steps


@pytest.mark.parametrize(
    ("case", "says"),
    [
        ("missing-branch", "branch nope was not found"),
        ("missing-directory", "directory 'jobs/none' does not exist"),
        ("bad-credentials", "could not authenticate"),
    ],
)
def test_a_source_that_cannot_be_fetched_fails_for_good_naming_the_fix(
    operator_cluster: LocalCluster, tmp_path: Path, case: str, says: str
) -> None:
    cluster = operator_cluster
    repository = "private/greeter" if case == "bad-credentials" else f"greeter-{case}"
    if case != "bad-credentials":
        push_job(cluster, "greeter", repository, tmp_path)
    git: dict[str, object] = {"remote": f"{handle(cluster).git_url}/{repository}.git"}
    if case == "missing-branch":
        git["branch"] = "nope"
    if case == "missing-directory":
        git["directory"] = "jobs/none"
    if case == "bad-credentials":
        cluster.kubectl(
            "create", "secret", "generic", "wrong-git-password", "--type=kubernetes.io/basic-auth",
            "--from-literal=username=racetrack", "--from-literal=password=wrong",
        )  # fmt: skip
        git["credentials"] = {"name": "wrong-git-password"}
    name = f"fetch-{case}"
    cluster.kubectl("apply", "-f", "-", input=job_manifest(name, "1.0.0", **PYTHON3, git=git,
                                                           jobtypeExtra=GREETER_EXTRA))  # fmt: skip
    job = wait_built_false(cluster, f"{name}-v1-0-0")
    built = condition(job, "Built")
    assert built["reason"] == "FetchFailed" and says in built["message"]
    assert job["status"]["build"]["attempts"] == 1  # retrying cannot help: not retried
    assert "wrong" not in built["message"]  # the password is nowhere


def test_an_unreachable_repository_is_retried_then_fails(
    operator_cluster: LocalCluster,
) -> None:
    cluster = operator_cluster
    # A port nothing listens on, on the node's own address: the connection is refused.
    remote = f"https://{handle(cluster).network.host_ip}:9/nobody.git"
    manifest = job_manifest("unreachable", "1.0.0", **PYTHON3, git={"remote": remote},
                            jobtypeExtra=GREETER_EXTRA)  # fmt: skip
    cluster.kubectl("apply", "-f", "-", input=manifest)
    job = wait_built_false(cluster, "unreachable-v1-0-0", timeout=240)
    built = condition(job, "Built")
    assert built["reason"] == "FetchFailed"
    assert "after 2 attempts" in built["message"] and "will retry" in built["message"]


def test_a_dockerfile_error_fails_the_build_with_buildkit_s_words(
    operator_cluster: LocalCluster, tmp_path: Path
) -> None:
    cluster = operator_cluster
    tree = tmp_path / "broken-dockerfile"
    tree.mkdir()
    (tree / "Dockerfile").write_text(
        "ARG RACETRACK_BASE_IMAGE\nFROM ${RACETRACK_BASE_IMAGE}\nRUN exit 3\n"
    )
    pushed = source_command.push_folder(tree, handle(cluster).registry_host)
    manifest = job_manifest("broken-dockerfile", "1.0.0", jobtype="docker-http:1.0.0",
                            source={"artifact": str(pushed.reference)})  # fmt: skip
    cluster.kubectl("apply", "-f", "-", input=manifest)
    job = wait_built_false(cluster, "broken-dockerfile-v1-0-0", timeout=300)
    built = condition(job, "Built")
    assert built["reason"] == "ImageBuildFailed"
    assert "exit code: 3" in built["message"]
    assert (
        job_object(cluster, "broken-dockerfile-v1-0-0")["status"]["build"]["step"] == "dockerfile"
    )
