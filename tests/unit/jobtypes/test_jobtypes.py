"""Job types as data: resolution, env rendering, the build recipe, and the examples' manifests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from racetrack_api.jobtypes import (
    BuildRecipeError,
    JobType,
    JobTypeError,
    UnknownJobTypeError,
    load_job_types,
    render_dockerfile,
    resolve_job_type,
    supported_job_types,
)

REPO = Path(__file__).resolve().parents[3]
RUNTIME = ["starlette==1.10.0", "uvicorn==0.54.0"]


def fake(name: str, version: str) -> JobType:
    base = resolve_job_type("python3:latest")
    return base.model_copy(update={"name": name, "version": version})


FAKES = [fake("python3", v) for v in ("1.0.0", "1.2.0", "1.10.0", "2.0.0-rc.1", "0.9.0")]


def test_packaged_types_load_and_are_listed() -> None:
    assert supported_job_types() == ["docker-http:1.0.0", "python3:1.0.0"]
    assert all(isinstance(t, JobType) for t in load_job_types())


@pytest.mark.parametrize(
    ("reference", "version"),
    [
        ("python3:1.2.0", "1.2.0"),
        ("python3:latest", "1.10.0"),  # numeric order, pre-release skipped
        ("python3:1.*", "1.10.0"),
        ("python3:2.*", "2.0.0-rc.1"),
        (" python3:0.9.0 ", "0.9.0"),
    ],
)
def test_resolve(reference: str, version: str) -> None:
    assert resolve_job_type(reference, FAKES).version == version


@pytest.mark.parametrize(
    "reference", ["python3:9.9.9", "golang:1.0.0", "python3", "python3:", ":1"]
)
def test_unknown_references_list_what_is_supported(reference: str) -> None:
    with pytest.raises(UnknownJobTypeError) as caught:
        resolve_job_type(reference)
    assert "supported: docker-http:1.0.0, python3:1.0.0" in str(caught.value)


def test_python3_runs_on_the_original_port_with_the_runtime_probes() -> None:
    python3 = resolve_job_type("python3:1.0.0")
    assert python3.port == 7000
    assert python3.probes.liveness.path == "/live"
    assert python3.probes.readiness.path == "/ready"
    assert python3.probes.startup.path == "/live"
    assert python3.metrics_path == "/metrics"


def test_docker_http_uses_tcp_probes_and_the_users_dockerfile() -> None:
    docker = resolve_job_type("docker-http:latest")
    assert docker.port == 7000
    assert docker.probes.readiness.path is None
    assert docker.runtime_env({}) == {"PORT": "7000"}
    assert docker.build.kind == "user-dockerfile"
    assert docker.build.user_dockerfile == "Dockerfile"
    with pytest.raises(BuildRecipeError, match="user's Dockerfile"):
        render_dockerfile(docker, {}, runtime_requirements=RUNTIME)


def test_runtime_env_maps_jobtype_extra_to_the_runtime_variables() -> None:
    python3 = resolve_job_type("python3:1.0.0")
    env = python3.runtime_env(
        {
            "entrypoint_path": "job/model.py",
            "entrypoint_class": "Model",
            "max_concurrency": 2,
            "max_concurrency_queue": 0,
            "home_page": "/api/v1/webview",
            "requirements_path": "requirements.txt",  # build-time only: not in env
            "perform_timeout": None,
        }
    )
    assert env == {
        "JOB_HOST": "0.0.0.0",
        "JOB_PORT": "7000",
        "JOB_ENTRYPOINT_PATH": "job/model.py",
        "JOB_ENTRYPOINT_CLASS": "Model",
        "JOB_MAX_CONCURRENCY": "2",
        "JOB_MAX_CONCURRENCY_QUEUE": "0",
        "JOB_HOME_PAGE": "/api/v1/webview",
    }


def test_runtime_env_variables_are_ones_the_runtime_reads() -> None:
    from racetrack_job_runtime.config import ENV_VARS

    python3 = resolve_job_type("python3:1.0.0")
    assert set(python3.extra_env.values()) | set(python3.env) <= set(ENV_VARS)


def test_missing_entrypoint_path_is_a_clear_error() -> None:
    with pytest.raises(JobTypeError, match=r"needs jobtype_extra\.entrypoint_path"):
        resolve_job_type("python3:1.0.0").runtime_env({})


def test_the_runtime_port_reaches_the_container_from_the_job_type() -> None:
    python3 = resolve_job_type("python3:1.0.0")
    assert python3.runtime_env({"entrypoint_path": "a.py"})["JOB_PORT"] == str(python3.port)


def test_dockerfile_for_a_job() -> None:
    python3 = resolve_job_type("python3:1.0.0")
    text = render_dockerfile(
        python3,
        {
            "entrypoint_path": "src/job.py",
            "requirements_path": "deps/req.txt",
            "python_version": "3.12",
        },
        runtime_requirements=RUNTIME,
        system_dependencies=["libgomp1"],
        build_env={"PIP_INDEX_URL": 'https://pypi.example.org/simple "x"'},
    )
    lines = text.splitlines()
    assert lines[0] == "FROM python:3.12-slim-bookworm"
    assert "RUN apt-get update && apt-get install -y --no-install-recommends libgomp1" in text
    assert 'ENV PIP_INDEX_URL="https://pypi.example.org/simple \\"x\\""' in lines
    assert "COPY deps/req.txt /src/job/deps/req.txt" in lines
    assert "RUN /src/job-venv/bin/pip install --no-cache-dir -r /src/job/deps/req.txt" in lines
    assert "    JOB_ENTRYPOINT_PATH=src/job.py \\" in lines
    assert "VENV_PACKAGES_PATH=/src/job-venv/lib/python3.12/site-packages" in text
    assert "RUN pip install --no-cache-dir starlette==1.10.0 uvicorn==0.54.0" in lines
    assert "    JOB_PORT=7000" in lines
    assert lines[-1] == 'CMD ["python", "-m", "racetrack_job_runtime", "run"]'
    assert "${" not in text


def test_dockerfile_without_optional_steps() -> None:
    text = render_dockerfile(
        resolve_job_type("python3:1.0.0"), {"entrypoint_path": "job.py"}, runtime_requirements=[]
    )
    assert "apt-get install" not in text
    assert "-r /src/job/" not in text
    assert "FROM python:3.11-slim-bookworm" in text


@pytest.mark.parametrize(
    ("extra", "system", "env", "fragment"),
    [
        ({"entrypoint_path": "../x.py"}, [], {}, "plain relative path"),
        ({"entrypoint_path": "/abs.py"}, [], {}, "plain relative path"),
        ({"entrypoint_path": "a.py", "requirements_path": "r.txt\nRUN x"}, [], {}, "relative"),
        ({"entrypoint_path": "a.py"}, ["curl; rm -rf /"], {}, "not a package name"),
        ({"entrypoint_path": "a.py"}, [], {"BAD NAME": "x"}, "not a valid variable name"),
        ({"entrypoint_path": "a.py", "python_version": "3.11 AS x"}, [], {}, "image tag"),
    ],
)
def test_dockerfile_refuses_values_that_could_inject(
    extra: dict[str, Any], system: list[str], env: dict[str, str], fragment: str
) -> None:
    with pytest.raises(BuildRecipeError, match=fragment):
        render_dockerfile(
            resolve_job_type("python3:1.0.0"),
            extra,
            runtime_requirements=RUNTIME,
            system_dependencies=system,
            build_env=env,
        )


def test_data_file_errors_are_reported(tmp_path: Path) -> None:
    bad = tmp_path / "types.yaml"
    bad.write_text(yaml.safe_dump({"job_types": [{"name": "x", "version": "1"}]}))
    with pytest.raises(JobTypeError, match="invalid job type"):
        load_job_types(bad)
    bad.write_text("something: else\n")
    with pytest.raises(JobTypeError, match="'job_types' list"):
        load_job_types(bad)


EXAMPLES = sorted((REPO / "examples" / "jobs").glob("*/job.yaml"))


def test_there_are_the_four_promised_examples() -> None:
    names = {path.parent.name for path in EXAMPLES}
    assert {"adder", "auxiliary-endpoints", "slow-warmup", "secret-reader"} <= names


@pytest.mark.parametrize("manifest_path", EXAMPLES, ids=lambda p: p.parent.name)
def test_example_manifests_are_deployable(manifest_path: Path) -> None:
    manifest = yaml.safe_load(manifest_path.read_text())
    for field in ("name", "version", "owner_email", "jobtype", "git"):
        assert field in manifest, f"{manifest_path} lacks {field}"
    assert manifest["git"]["remote"].startswith("https://")
    assert (REPO / manifest["git"]["directory"]) == manifest_path.parent
    job_type = resolve_job_type(manifest["jobtype"])
    env = job_type.runtime_env(manifest.get("jobtype_extra"))
    assert (manifest_path.parent / env["JOB_ENTRYPOINT_PATH"]).is_file()
    render_dockerfile(job_type, manifest["jobtype_extra"], runtime_requirements=RUNTIME)
