"""The fetch step: git's failures told apart, and a real shallow clone of a local repository."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from racetrack_builder import fetch, report
from racetrack_builder.report import BuildFailure

SOURCE = fetch.GitSource("https://git.example.org/ml/adder.git", branch="main")


@pytest.mark.parametrize(
    ("output", "permanent", "says"),
    [
        ("fatal: Authentication failed for 'https://...'", True, "could not authenticate"),
        (
            "fatal: could not read Username for 'https://git.example.org'",
            True,
            "spec.git.credentials",
        ),
        ("fatal: couldn't find remote ref refs/heads/main", True, "branch main was not found"),
        ("fatal: repository 'https://x/' not found", True, "HTTP 404"),
        (
            "fatal: unable to access: SSL certificate problem: unable to get local issuer",
            True,
            "CA",
        ),
        (
            "fatal: unable to access: Failed to connect to git.example.org port 443",
            False,
            "will retry",
        ),
        ("fatal: unable to access: Could not resolve host: git.example.org", False, "will retry"),
        ("error: RPC failed; HTTP 503", False, "will retry"),
    ],
)
def test_git_failures_say_whether_retrying_helps(output: str, permanent: bool, says: str) -> None:
    failure = fetch.classify_git(output, SOURCE)
    assert failure.reason == report.FETCH_FAILED
    assert failure.permanent is permanent
    assert says in failure.message


def git(*args: str, cwd: Path) -> None:
    subprocess.run(
        ["git", "-c", "user.email=t@example.org", "-c", "user.name=t", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
    )


@pytest.fixture
def repository(tmp_path: Path) -> Path:
    work = tmp_path / "work"
    (work / "jobs" / "adder").mkdir(parents=True)
    (work / "jobs" / "adder" / "entrypoint.py").write_text("A = 1\n")
    git("init", "-q", "-b", "main", cwd=work)
    git("add", ".", cwd=work)
    git("commit", "-qm", "one", cwd=work)
    git("tag", "v1", cwd=work)
    (work / "jobs" / "adder" / "entrypoint.py").write_text("A = 2\n")
    git("commit", "-qam", "two", cwd=work)
    bare = tmp_path / "adder.git"
    git("clone", "-q", "--bare", str(work), str(bare), cwd=tmp_path)
    return bare


def test_a_branch_is_fetched_into_the_workspace_without_git_itself(
    repository: Path, tmp_path: Path
) -> None:
    source = fetch.GitSource(f"file://{repository}", branch="main", directory="jobs/adder")
    workspace = tmp_path / "workspace"
    revision = fetch.fetch_git(source, workspace, report.Timings())
    assert len(revision) == 40 and (workspace / fetch.REVISION).read_text() == revision
    assert (workspace / fetch.SOURCE / "entrypoint.py").read_text() == "A = 2\n"
    assert not list(workspace.rglob(".git"))


def test_a_tag_is_fetched_by_name(repository: Path, tmp_path: Path) -> None:
    source = fetch.GitSource(f"file://{repository}", ref="v1", directory="jobs/adder")
    fetch.fetch_git(source, tmp_path / "workspace", report.Timings())
    assert (tmp_path / "workspace" / fetch.SOURCE / "entrypoint.py").read_text() == "A = 1\n"


@pytest.mark.parametrize(
    ("branch", "directory", "says"),
    [
        ("nope", ".", "branch nope was not found"),
        (None, "jobs/missing", "does not exist in"),
    ],
)
def test_what_is_not_in_the_repository_fails_for_good(
    repository: Path, tmp_path: Path, branch: str | None, directory: str, says: str
) -> None:
    source = fetch.GitSource(f"file://{repository}", branch=branch, directory=directory)
    with pytest.raises(BuildFailure, match=says) as caught:
        fetch.fetch_git(source, tmp_path / "w", report.Timings())
    assert caught.value.permanent
