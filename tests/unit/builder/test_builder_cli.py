"""A step as its container runs it: settings from the environment, the termination message
and the exit code that tells the Job controller whether to retry."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from racetrack_builder import cli, report


@pytest.fixture
def termination_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "termination-log"
    monkeypatch.setattr(report, "TERMINATION_LOG", path)
    return path


def test_a_step_missing_a_setting_fails_for_good_naming_it(termination_log: Path) -> None:
    code = cli.run_step("build", {"RACETRACK_WORKSPACE": "/nonexistent"})
    assert code == report.PERMANENT
    message = json.loads(termination_log.read_text())
    assert message["reason"] == report.DEPENDENCIES_FAILED and message["permanent"] is True
    assert "RACETRACK_BASE_IMAGE" in message["message"]


def test_a_source_artifact_from_an_unreachable_registry_is_retried(
    termination_log: Path, tmp_path: Path
) -> None:
    env = {
        "RACETRACK_WORKSPACE": str(tmp_path / "w"),
        "RACETRACK_REGISTRY": "127.0.0.1:9",
        "RACETRACK_REGISTRY_URL": "http://127.0.0.1:9",
        "RACETRACK_SOURCE_ARTIFACT": "127.0.0.1:9/racetrack/sources/a@sha256:" + "a" * 64,
    }
    assert cli.run_step("fetch", env) == report.TRANSIENT
    message = json.loads(termination_log.read_text())
    assert (message["reason"], message["permanent"]) == (report.FETCH_FAILED, False)


def test_a_fetched_folder_reports_its_revision_and_timings(
    termination_log: Path, tmp_path: Path
) -> None:
    bare = tmp_path / "repo.git"
    work = tmp_path / "work"
    work.mkdir()
    (work / "a.py").write_text("A = 1\n")

    def git(*args: str, cwd: Path = work) -> str:
        return subprocess.run(
            ["git", "-c", "user.email=t@e.org", "-c", "user.name=t", *args],
            cwd=cwd, capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip

    git("init", "-q", "-b", "main")
    git("add", ".")
    git("commit", "-qm", "one")
    git("clone", "-q", "--bare", str(work), str(bare), cwd=tmp_path)
    env = {"RACETRACK_WORKSPACE": str(tmp_path / "w"), "RACETRACK_GIT_REMOTE": f"file://{bare}"}
    assert cli.run_step("fetch", env) == 0
    message = json.loads(termination_log.read_text())
    assert message["revision"] == git("rev-parse", "HEAD")
    assert set(message["timings"]) == {"clone"}
