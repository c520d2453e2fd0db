"""Job types as data: resolution, env rendering, the build recipe, and the examples' manifests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from job_manifests import load_manifest  # type: ignore[import-not-found]
from racetrack_api.jobtypes import (
    BuildRecipeError,
    JobType,
    JobTypeError,
    MissingExtraError,
    UnknownJobTypeError,
    describe_supported,
    load_job_types,
    render_dockerfile,
    resolve_job_type,
    supported_job_types,
)

REPO = Path(__file__).resolve().parents[3]
BASE = "registry.example.org/racetrack/python3-base:1"


def fake(name: str, version: str) -> JobType:
    base = resolve_job_type("python3:latest")
    return base.model_copy(update={"name": name, "version": version})


FAKES = [fake("python3", v) for v in ("1.0.0", "1.2.0", "1.10.0", "2.0.0-rc.1", "0.9.0")]
SUPPORTED = (
    "docker-http:1.0.0, "
    "docker-proxy:4.0.0 (also docker-proxy:2.5.2 to docker-proxy:2.6.1, "
    "docker-proxy:3.0.0 to docker-proxy:3.2.2), "
    "dockerfile:1.0.0, "
    "python3:3.0.0 (also python3:1.0.0, python3:2.3.0 to python3:2.15.1)"
)


def test_packaged_types_load_and_are_listed() -> None:
    assert describe_supported() == SUPPORTED
    listed = supported_job_types()
    assert {"python3:1.0.0", "python3:2.15.1", "python3:3.0.0", "dockerfile:1.0.0"} <= set(listed)
    assert len(listed) == len(set(listed)) == len(load_job_types())
    assert all(isinstance(t, JobType) for t in load_job_types())


@pytest.mark.parametrize(
    ("reference", "version"),
    [
        ("python3:1.2.0", "1.2.0"),
        ("python3:latest", "2.0.0-rc.1"),  # the highest installed, as the original chose
        ("python3:1.*", "1.10.0"),  # numeric order
        ("python3:2.*", "2.0.0-rc.1"),
        (" python3:0.9.0 ", "0.9.0"),
    ],
)
def test_resolve(reference: str, version: str) -> None:
    assert resolve_job_type(reference, FAKES).version == version


# The original's own table of job type matches (its image builder's tests), name for name.
ORIGINAL_CASES = [
    ("python3:2.6.1", ["python3:2.5.1", "python3:2.6.1"], "python3:2.6.1"),
    (
        "python3:2.6.*",
        ["python3:2.6.1", "python3:2.6.12", "python3:2.6.2", "go:2.6.9"],
        "python3:2.6.12",
    ),
    (
        "labber:1.30.*-3.9-bullseye",
        ["labber:1.30.1-3.9-bullseye", "labber:1.30.9-3.8-bullseye", "labber:1.30.99-3.9-buster"],
        "labber:1.30.1-3.9-bullseye",
    ),
    ("python3:latest", ["python3:2.5.1", "python3:2.11.1", "python3:2.5.99"], "python3:2.11.1"),
    (
        "mllab:1.3.*-3.9-bullseye",
        [
            "mllab:1.3.1-3.8-bullseye",
            "mllab:1.3.1-3.8-buster",
            "mllab:1.3.1-3.9-bullseye",
            "mllab:1.3.1-curated",
            "python3:2.6.1",
        ],
        "mllab:1.3.1-3.9-bullseye",
    ),
]


@pytest.mark.parametrize(("reference", "installed", "expected"), ORIGINAL_CASES)
def test_resolve_as_the_original_matched(
    reference: str, installed: list[str], expected: str
) -> None:
    types = [fake(*ref.split(":")) for ref in installed]
    assert resolve_job_type(reference, types).reference == expected


@pytest.mark.parametrize(
    ("reference", "expected"),
    [
        ("python3:2.15.1", "python3:2.15.1"),
        ("python3:2.*", "python3:2.15.1"),
        ("python3:2.6.*", "python3:2.6.2"),
        ("python3:2.5.*", "python3:2.5.10"),  # numerically, not as text
        ("python3:2.14.*", "python3:2.14.6"),
        ("python3:latest", "python3:3.0.0"),
        ("python3:*", "python3:3.0.0"),
        ("python3:1.0.0", "python3:1.0.0"),
        ("docker-proxy:latest", "docker-proxy:4.0.0"),
        ("docker-proxy:3.*", "docker-proxy:3.2.2"),
        ("dockerfile:latest", "dockerfile:1.0.0"),
    ],
)
def test_the_versions_users_pin_resolve_to_our_implementations(
    reference: str, expected: str
) -> None:
    resolved = resolve_job_type(reference)
    assert resolved.reference == expected
    own = [t for t in load_job_types() if t.name == resolved.name and t.implementation is None]
    assert resolved.implementation in (None, own[0].version)
    # Every published version of an implementation behaves the same.
    naming = {"version", "implementation", "compatible_versions"}
    assert resolved.model_dump(exclude=naming) == own[0].model_dump(exclude=naming)


@pytest.mark.parametrize(
    ("reference", "fragment"),
    [
        ("python3:9.9.9", "job type python3:9.9.9 is not supported"),
        ("golang:1.0.0", "job type golang:1.0.0 is not supported"),
        ("python3:2.99.*", "job type python3:2.99.* is not supported"),
        ("python3:2.x", "job type python3:2.x is not supported"),
        ("python3:2*", "must look like 2.*, 2.6.* or 1.30.*-3.9-bullseye"),
        ("python3", "must look like NAME:VERSION"),
        ("python3:", "must look like NAME:VERSION"),
        (":1", "must look like NAME:VERSION"),
    ],
)
def test_unknown_references_list_what_is_supported(reference: str, fragment: str) -> None:
    with pytest.raises(UnknownJobTypeError) as caught:
        resolve_job_type(reference)
    assert fragment in str(caught.value)
    assert str(caught.value).endswith(f"supported: {SUPPORTED}")


def test_data_file_refuses_a_version_published_twice(tmp_path: Path) -> None:
    entry = load_job_types()[0].model_dump(mode="json", exclude={"implementation"})
    twice = {**entry, "compatible_versions": [entry["version"]]}
    bad = tmp_path / "types.yaml"
    bad.write_text(yaml.safe_dump({"job_types": [twice]}))
    with pytest.raises(JobTypeError, match="defined twice"):
        load_job_types(bad)


def test_docker_proxy_runs_the_runtimes_proxy_before_the_users_server() -> None:
    proxy = resolve_job_type("docker-proxy:3.2.2")
    assert proxy.proxy is not None
    assert proxy.proxy.command == ("racetrack-job", "proxy")
    assert (proxy.port, proxy.user_module_port({})) == (7000, 7001)
    assert proxy.user_module_port({"user_module_port": "7004"}) == 7004
    assert proxy.probes.readiness.path == "/ready"
    assert proxy.runtime_env({"user_module_port": 7004}) == {
        "JOB_HOST": "0.0.0.0",
        "JOB_PORT": "7000",
        "JOB_USER_MODULE_HOSTNAME": "localhost",
        "JOB_USER_MODULE_PORT": "7004",
    }
    assert proxy.build.kind == "user-dockerfile"
    for bad in ("7000", "0", "port"):
        with pytest.raises(JobTypeError, match="user_module_port must be a port number"):
            proxy.runtime_env({"user_module_port": bad})
    with pytest.raises(JobTypeError, match=r"supports jobtype_extra\.proxy_mode forward, not"):
        proxy.runtime_env({"proxy_mode": "rewrite"})
    assert proxy.runtime_env({"proxy_mode": "forward"})["JOB_PORT"] == "7000"
    assert resolve_job_type("python3:latest").user_module_port({}) is None


def test_dockerfile_type_is_the_users_image_with_health_endpoints() -> None:
    dockerfile = resolve_job_type("dockerfile:latest")
    assert (dockerfile.port, dockerfile.proxy) == (7000, None)
    assert dockerfile.probes.liveness.path == "/live"
    assert dockerfile.probes.readiness.path == "/ready"
    assert dockerfile.runtime_env({}) == {}
    assert (dockerfile.build.kind, dockerfile.build.user_dockerfile) == (
        "user-dockerfile",
        "Dockerfile",
    )


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
        render_dockerfile(docker, {}, base_image=BASE, system_dependencies=["libgomp1"])


def test_python3_is_composed_and_rebuilt_only_for_the_requirements() -> None:
    build = resolve_job_type("python3:1.0.0").build
    assert build.kind == "compose"
    assert build.inputs == ("requirements_path",)


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
    with pytest.raises(MissingExtraError, match=r"needs jobtype_extra\.entrypoint_path"):
        resolve_job_type("python3:1.0.0").runtime_env({})


def test_the_runtime_port_reaches_the_container_from_the_job_type() -> None:
    python3 = resolve_job_type("python3:1.0.0")
    assert python3.runtime_env({"entrypoint_path": "a.py"})["JOB_PORT"] == str(python3.port)


def test_dockerfile_for_a_job_with_system_packages() -> None:
    python3 = resolve_job_type("python3:1.0.0")
    text = render_dockerfile(
        python3,
        {"entrypoint_path": "src/job.py", "requirements_path": "deps/req.txt"},
        base_image=BASE,
        system_dependencies=["libgomp1", "libpq5=15.10-0+deb12u1"],
        build_args=["PIP_INDEX_URL", "PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL"],
    )
    lines = text.splitlines()
    assert lines[0] == f"FROM {BASE}"
    assert lines[1:3] == ["ARG PIP_EXTRA_INDEX_URL", "ARG PIP_INDEX_URL"]
    assert (
        "    && apt-get install -y --no-install-recommends "
        "libgomp1 libpq5=15.10-0+deb12u1 python3-pip \\" in lines
    )
    assert 'then echo "deb $DEBIAN_MIRROR bookworm main" > /etc/apt/sources.list' in text
    assert "COPY deps/req.txt /job/deps/req.txt" in lines
    # Secret build variables and extra CAs are mounted for the install step only.
    assert "--mount=type=secret,id=build_secrets,required=false" in text
    assert "--target /job-packages --requirement /job/deps/req.txt" in text
    assert "ENV VENV_PACKAGES_PATH=/job-packages" in lines
    assert lines[-1] == 'CMD ["racetrack-job", "run"]'
    assert "${" not in text


def test_dockerfile_without_requirements_installs_no_pip() -> None:
    text = render_dockerfile(
        resolve_job_type("python3:1.0.0"),
        {"entrypoint_path": "job.py"},
        base_image=BASE,
        system_dependencies=["libgomp1"],
    )
    assert "install -y --no-install-recommends libgomp1 \\" in text
    assert "pip" not in text
    assert "ARG " not in text.replace("ARG DEBIAN_MIRROR", "")


@pytest.mark.parametrize(
    ("extra", "system", "args", "base", "fragment"),
    [
        ({"requirements_path": "../r.txt"}, ["a"], [], BASE, "plain relative path"),
        ({"requirements_path": "/r.txt"}, ["a"], [], BASE, "plain relative path"),
        ({"requirements_path": "r.txt\nRUN x"}, ["a"], [], BASE, "relative"),
        ({}, ["curl; rm -rf /"], [], BASE, "not a package name"),
        ({}, ["a"], ["BAD NAME"], BASE, "not a valid variable name"),
        ({}, ["a"], [], "base AS x", "not an image reference"),
    ],
)
def test_dockerfile_refuses_values_that_could_inject(
    extra: dict[str, Any], system: list[str], args: list[str], base: str, fragment: str
) -> None:
    with pytest.raises(BuildRecipeError, match=fragment):
        render_dockerfile(
            resolve_job_type("python3:1.0.0"),
            {"entrypoint_path": "a.py", **extra},
            base_image=base,
            system_dependencies=system,
            build_args=args,
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


def test_there_is_an_example_of_each_feature() -> None:
    names = {path.parent.name for path in EXAMPLES}
    assert {
        "adder",
        "auxiliary-endpoints",
        "auxiliary-endpoints-v2",
        "chain",
        "docker-proxy",
        "hasher",
        "logging",
        "logging-format",
        "metrics",
        "overlays",
        "primer",
        "secret-reader",
        "slow-warmup",
        "timeout",
        "webview",
        "webview-asgi",
    } <= names


@pytest.mark.parametrize("manifest_path", EXAMPLES, ids=lambda p: p.parent.name)
def test_example_manifests_are_deployable(manifest_path: Path) -> None:
    manifest = load_manifest(manifest_path)
    for field in ("name", "version", "owner_email", "jobtype", "git"):
        assert field in manifest, f"{manifest_path} lacks {field}"
    assert manifest["git"]["remote"].startswith("https://")
    assert (REPO / manifest["git"]["directory"]) == manifest_path.parent
    job_type = resolve_job_type(manifest["jobtype"])
    env = job_type.runtime_env(manifest.get("jobtype_extra"))
    if job_type.build.kind == "user-dockerfile":
        assert (manifest_path.parent / str(job_type.build.user_dockerfile)).is_file()
        return
    assert (manifest_path.parent / env["JOB_ENTRYPOINT_PATH"]).is_file()
    render_dockerfile(
        job_type, manifest["jobtype_extra"], base_image=BASE, system_dependencies=["libgomp1"]
    )
