"""``racetrack deploy --force`` against the admission webhooks: a version deployed and
deleted before is claimed again only with --force, and a refusal is said in the webhook's
own words."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from webhook_helpers import Identity, racetrack_object  # type: ignore[import-not-found]

from support import eventually  # type: ignore[import-not-found]

pytestmark = pytest.mark.cluster

PRIMER = Path(__file__).resolve().parents[3] / "examples" / "jobs" / "primer"
IMAGE = "registry.example.org/racetrack/job-entrypoint/primer:0.0.1"


def racetrack(identity: Identity, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KUBECONFIG": str(identity.kubeconfig)}
    return subprocess.run(
        [sys.executable, "-m", "racetrack_cli.main", *args],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def test_a_deleted_version_is_deployed_again_only_with_force(
    admin: Identity, namespace: str
) -> None:
    assert admin.apply(racetrack_object("JobFamily", "primer", {}, namespace)).returncode == 0
    deploy = ("deploy", str(PRIMER), "-n", namespace, "--image", IMAGE, "--no-wait")
    first = racetrack(admin, *deploy)
    assert first.returncode == 0, first.stderr
    deleted = racetrack(admin, "delete", "primer", "0.0.1", "-n", namespace)
    assert deleted.returncode == 0, deleted.stderr

    def remembered() -> bool:
        got = admin.kubectl("get", "jobfamily", "primer", "-n", namespace, "-o", "json").stdout
        notes = json.loads(got)["metadata"].get("annotations") or {}
        return notes.get("racetrack.io/deleted-versions") == "0.0.1"

    eventually(remembered, 30, "the family to remember the deleted version")
    again = racetrack(admin, *deploy)
    assert again.returncode == 1
    assert "racetrack deploy: the API server refused Job primer-v0-0-1: " in again.stderr
    assert "has already been deployed and deleted" in again.stderr
    assert "HTTP 4" in again.stderr

    forced = racetrack(admin, *deploy, "--force")
    assert forced.returncode == 0, forced.stderr
    got = admin.kubectl("get", "rtjob", "primer-v0-0-1", "-n", namespace, "-o", "json").stdout
    assert json.loads(got)["metadata"]["annotations"]["racetrack.io/force"] == "true"
