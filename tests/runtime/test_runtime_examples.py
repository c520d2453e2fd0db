"""The shipped examples, started the way a job image starts them.

Each example's ``job.yaml`` is read, its job type resolved, and the container environment
rendered by ``JobType.runtime_env`` (what the operator will put on the Deployment); the
runtime then runs with no entrypoint argument, in the example's folder (the image's
``/src/job``), so the example, the job type data and the runtime are checked together.
"""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from racetrack_api.jobtypes import resolve_job_type

if TYPE_CHECKING:  # pytest imports conftest itself; this import is for type checkers only
    from tests.runtime.conftest import RunningJob, StartJob


def start_example(
    start_job: StartJob, folder: Path, extra_env: dict[str, str] | None = None
) -> RunningJob:
    manifest: dict[str, Any] = yaml.safe_load((folder / "job.yaml").read_text())
    job_type = resolve_job_type(manifest["jobtype"])
    env = job_type.runtime_env(manifest.get("jobtype_extra"))
    env.update(manifest.get("runtime_env") or {})
    env.update({"JOB_NAME": manifest["name"], "JOB_VERSION": manifest["version"]})
    env.update(extra_env or {})
    return start_job(None, env, cwd=folder)


def test_adder(start_job: StartJob, examples_dir: Path) -> None:
    job = start_example(start_job, examples_dir / "adder")
    job.wait_for("/ready", 200)
    assert job.client.post("/api/v1/perform", json={"a": 1, "b": 2}).json() == 3
    assert job.client.post("/api/v1/perform", json={"a": 1.5, "b": 2}).json() == 3.5
    doc = job.client.get("/openapi.json").json()
    assert doc["info"]["title"] == "Job - adder"
    body = doc["paths"]["/api/v1/perform"]["post"]["requestBody"]["content"]["application/json"]
    assert body["example"] == {"a": 40, "b": 2}


def test_auxiliary_endpoints_docs_examples_and_static_files(
    start_job: StartJob, examples_dir: Path
) -> None:
    job = start_example(start_job, examples_dir / "auxiliary-endpoints")
    job.wait_for("/ready", 200)
    score = job.client.post("/api/v1/perform", json={"text": "The quick brown fox"}).json()
    assert score == {"words": 4, "vowels": 5}
    explained = job.client.post("/api/v1/explain", json=score).json()
    assert explained == {"vowels_per_word": 1.25, "verdict": "terse"}
    home = job.client.get("/")
    assert (home.status_code, home.headers["location"]) == (307, "/api/v1/ui")
    page = job.client.get("/api/v1/ui")
    assert page.headers["content-type"].startswith("text/html")
    assert "<h1>Text scorer</h1>" in page.text
    assert job.client.get("/api/v1/assets/index.html").text == page.text
    doc = job.client.get("/openapi.json").json()
    explain = doc["paths"]["/api/v1/explain"]["post"]["requestBody"]["content"]["application/json"]
    assert explain["example"] == {"words": 4, "vowels": 5}
    assert "scored_texts 1.0" in job.client.get("/metrics").text


def test_slow_warm_up_is_live_before_ready(start_job: StartJob, examples_dir: Path) -> None:
    job = start_example(start_job, examples_dir / "slow-warmup", {"WARMUP_SECONDS": "0.5"})
    assert job.client.get("/live").status_code == 200
    job.wait_for("/ready", 200)
    assert job.client.post("/api/v1/perform", json={"x": 2}).json() == 4.5
    assert "Loading the model (0.5 s)" in job.log()


def test_secret_from_environment_is_used_but_never_shown(
    start_job: StartJob, examples_dir: Path
) -> None:
    folder = examples_dir / "secret-reader"
    unset = start_example(start_job, folder)
    health = unset.wait_for("/health", 500).json()
    assert "SIGNING_KEY is not set" in health["error"]

    job = start_example(start_job, folder, {"SIGNING_KEY": "s3cret-key"})
    job.wait_for("/ready", 200)
    answer = job.client.post("/api/v1/perform", json={"message": "hello"})
    expected = hmac.new(b"s3cret-key", b"hello", hashlib.sha256).hexdigest()
    assert answer.json() == {"message": "hello", "signature": expected}
    assert "s3cret-key" not in answer.text
    assert "s3cret-key" not in job.log()
