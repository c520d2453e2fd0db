"""The BuildKit step's pure parts: the daemon's registry settings, buildctl's arguments,
what its failures mean, and how secrets reach the build."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from racetrack_builder import dockerfile, python3, report

DAEMON = dockerfile.Daemon(
    Path("/run/user/1000"), Path("/home/user/.local/share/buildkit"), Path("/tmp/b.toml")
)


def test_images_named_by_the_node_local_registry_are_pulled_through_the_pods_endpoint() -> None:
    text = dockerfile.daemon_config("127.0.0.1:5000", "http://10.237.0.1:5000", [])
    assert '[registry."127.0.0.1:5000"]\n  mirrors = ["10.237.0.1:5000"]' in text
    assert '[registry."10.237.0.1:5000"]\n  http = true' in text
    assert "[worker.containerd]\n  enabled = false" in text


def test_one_name_everywhere_over_https_with_an_extra_ca() -> None:
    text = dockerfile.daemon_config(
        "registry.example.org", "https://registry.example.org", ["/ca.pem"]
    )
    assert "mirrors" not in text
    assert '[registry."registry.example.org"]\n  http = false\n  ca = ["/ca.pem"]' in text


def test_buildctl_builds_the_context_pushes_and_passes_arguments_and_secrets() -> None:
    argv = dockerfile.build_argv(
        DAEMON,
        Path("/workspace/source"),
        Path("/tmp/dockerfile"),
        "10.237.0.1:5000/racetrack/jobs/adder:1.0.0-abc",
        {"PIP_INDEX_URL": "https://pypi.example.org/simple", "A": "1"},
        {"build_secrets": Path("/tmp/build_secrets.env")},
        Path("/tmp/metadata.json"),
    )
    assert argv[:3] == ["buildctl", "--addr=unix:///run/user/1000/buildkit/buildkitd.sock", "build"]
    assert (
        "--output=type=image,name=10.237.0.1:5000/racetrack/jobs/adder:1.0.0-abc,push=true" in argv
    )
    assert argv[-3:] == [
        "--opt=build-arg:A=1",
        "--opt=build-arg:PIP_INDEX_URL=https://pypi.example.org/simple",
        "--secret=id=build_secrets,src=/tmp/build_secrets.env",
    ]
    assert dockerfile.daemon_argv(DAEMON)[:2] == [
        "rootlesskit",
        "--state-dir=/run/user/1000/rootlesskit",
    ]
    assert "--oci-worker-no-process-sandbox" in dockerfile.daemon_argv(DAEMON)


def test_a_failing_run_step_is_a_permanent_build_failure() -> None:
    output = (
        '#7 [3/3] RUN false\n#7 ERROR: process "/bin/sh -c false" did not complete successfully: '
        'exit code: 1\nerror: failed to solve: process "/bin/sh -c false" did not complete '
        "successfully: exit code: 1\n"
    )
    failure = dockerfile.classify(output)
    assert failure.reason == report.IMAGE_BUILD_FAILED and failure.permanent
    assert "exit code: 1" in failure.message


def test_a_push_the_registry_refuses_is_a_push_failure() -> None:
    refused = "unexpected status from PUT request to http://r/v2/x: 403 Forbidden"
    denied = dockerfile.classify(f"error: failed to solve: failed to push x: {refused}\n")
    assert denied.reason == report.PUSH_FAILED and denied.permanent
    unreachable = "dial tcp 10.0.0.1:5000: connect: connection refused"
    down = dockerfile.classify(f"error: failed to solve: failed to push x: {unreachable}\n")
    assert down.reason == report.PUSH_FAILED and not down.permanent


def test_secrets_are_mounted_one_by_one_and_as_a_shell_file(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.mkdir()
    (secret / "TOKEN").write_text("it's $ecret")
    (secret / "..data").mkdir()  # a mounted Secret's bookkeeping
    files = dockerfile.secret_files(secret, tmp_path)
    assert files["TOKEN"] == secret / "TOKEN"
    combined = files["build_secrets"]
    value = subprocess.run(
        ["sh", "-c", f'set -a; . {combined}; printf %s "$TOKEN"'],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert value == "it's $ecret"
    assert dockerfile.secret_files(tmp_path / "none", tmp_path) == {}


def test_pip_failures_are_permanent_unless_the_network_failed() -> None:
    resolution = python3.classify_pip(
        "ERROR: Could not find a version that satisfies the requirement x==9\n"
        "ERROR: No matching distribution found for x==9\n"
    )
    assert resolution.permanent and resolution.message.endswith(
        "No matching distribution found for x==9"
    )
    retried = "WARNING: Retrying ... Max retries exceeded with url: /simple/x/"
    network = python3.classify_pip(f"{retried}\nERROR: Could not find a version\n")
    assert not network.permanent and "(will retry)" in network.message


def test_the_platform_version_is_set_in_the_final_image_after_the_last_instruction() -> None:
    user = 'FROM python:3.11 AS build\nRUN make\nFROM debian\nCMD ["serve"]'
    assert dockerfile.with_platform_version(user, "1.4.0") == (
        'FROM python:3.11 AS build\nRUN make\nFROM debian\nCMD ["serve"]\n'
        'ENV DEPLOYED_BY_RACETRACK_VERSION="1.4.0"\n'
    )
    assert dockerfile.with_platform_version("FROM a\n", "1.4.0").endswith(
        'FROM a\nENV DEPLOYED_BY_RACETRACK_VERSION="1.4.0"\n'
    )
    assert dockerfile.with_platform_version("FROM a\n", None) == "FROM a\n"


def test_mirrored_registries_are_pulled_from_the_cluster_registry_or_their_own_mirror() -> None:
    endpoint = "http://10.237.0.1:5000"
    mirrors = dockerfile.mirrors_of("docker.io, ghcr.io=mirror.example.org", endpoint)
    assert mirrors == {"docker.io": "10.237.0.1:5000", "ghcr.io": "mirror.example.org"}
    assert dockerfile.mirrors_of("", endpoint) == {}
    text = dockerfile.daemon_config("127.0.0.1:5000", endpoint, [], mirrors)
    # FROM python:3.11-slim-bookworm is docker.io/library/python: pulled from the endpoint,
    # which is plain HTTP here.
    assert '[registry."docker.io"]\n  mirrors = ["10.237.0.1:5000"]' in text
    assert '[registry."ghcr.io"]\n  mirrors = ["mirror.example.org"]' in text
    assert '[registry."10.237.0.1:5000"]\n  http = true' in text


def test_the_jobs_own_dockerfile_is_built_from_a_copy_and_its_source_left_as_fetched(
    tmp_path: Path,
) -> None:
    context = tmp_path / "source"
    context.mkdir()
    (context / "Dockerfile").write_text("FROM python:3.11-slim-bookworm\n")
    (context / "Dockerfile.dockerignore").write_text("secrets/\n")
    built = dockerfile.write_dockerfile(context, None, "1.4.0", tmp_path / "dockerfile")
    assert (built / "Dockerfile").read_text() == (
        'FROM python:3.11-slim-bookworm\nENV DEPLOYED_BY_RACETRACK_VERSION="1.4.0"\n'
    )
    assert (built / "Dockerfile.dockerignore").read_text() == "secrets/\n"
    assert (context / "Dockerfile").read_text() == "FROM python:3.11-slim-bookworm\n"
    rendered = dockerfile.write_dockerfile(context, "FROM base\n", None, tmp_path / "rendered")
    assert (rendered / "Dockerfile").read_text() == "FROM base\n"


def test_without_a_dockerfile_the_build_fails_for_good_naming_the_fix(tmp_path: Path) -> None:
    with pytest.raises(
        report.BuildFailure, match=r"add one, or fix spec\.git\.directory"
    ) as failed:
        dockerfile.write_dockerfile(tmp_path, None, "1.4.0", tmp_path / "dockerfile")
    assert failed.value.permanent
