"""The original job.yaml as a Job, key by key: every manifest key against a table of what it
becomes, and of the errors that name it."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest

from racetrack_api.v1alpha1 import Job
from racetrack_cli import manifest, manifest_files, manifest_input
from racetrack_cli.manifest_input import ManifestError, SecretEnv

BASE: dict[str, Any] = {
    "name": "adder",
    "owner_email": "team@example.org",
    "jobtype": "python3:2.15.1",
    "git": {"remote": "https://git.example.org/team/adder"},
}


def convert(**changes: Any) -> dict[str, Any]:
    rendered = manifest.to_job({**BASE, **changes}, "jobs")
    Job.model_validate(rendered.job)
    spec: dict[str, Any] = rendered.job["spec"]
    return spec


# (manifest key, its value, the spec fields it becomes)
KEY_TABLE: list[tuple[str, Any, dict[str, Any]]] = [
    ("name", "invoice-scorer", {"name": "invoice-scorer"}),
    ("owner_email", "ml@example.org", {"ownerEmail": "ml@example.org"}),
    ("version", "1.4.0-rc.1", {"version": "1.4.0-rc.1"}),
    ("jobtype", "python3:2.*", {"jobtype": "python3:2.*"}),
    (
        "git",
        {"remote": "https://g.example.org/r", "branch": "dev", "directory": "svc/a"},
        {"git": {"remote": "https://g.example.org/r", "branch": "dev", "directory": "svc/a"}},
    ),
    ("image_type", "docker", {}),
    ("system_dependencies", ["libgomp1", "curl"], {"systemDependencies": ["libgomp1", "curl"]}),
    (
        "build_env",
        {"PIP_INDEX_URL": "https://pypi"},
        {"buildEnv": {"PIP_INDEX_URL": "https://pypi"}},
    ),
    ("runtime_env", {"MODEL_DIR": "./models"}, {"runtimeEnv": {"MODEL_DIR": "./models"}}),
    ("labels", {"team": "ml"}, {"labels": {"team": "ml"}}),
    (
        "labels",
        {"tier": 1, "gold": True, "tags": ["a", "b"], "meta": {"x": 1}},
        {"labels": {"tier": "1", "gold": "true", "tags": '["a", "b"]', "meta": '{"x": 1}'}},
    ),
    (
        "public_endpoints",
        ["/api/v1/perform", "api/v1/webview"],
        {"publicEndpoints": ["/api/v1/perform", "/api/v1/webview"]},
    ),
    ("replicas", 3, {"replicas": 3}),
    (
        "resources",
        {"memory_min": "512Mi", "memory_max": "2Gi", "cpu_min": "100m", "cpu_max": 2},
        {"resources": {"memoryMin": "512Mi", "memoryMax": "2Gi", "cpuMin": "100m", "cpuMax": "2"}},
    ),
    (
        "jobtype_extra",
        {"entrypoint_path": "job.py", "max_concurrency": 2},
        {"jobtypeExtra": {"entrypoint_path": "job.py", "max_concurrency": 2}},
    ),
    ("python", {"entrypoint_path": "job.py"}, {"jobtypeExtra": {"entrypoint_path": "job.py"}}),
    ("golang", {"gomod": "x"}, {"jobtypeExtra": {"gomod": "x"}}),
    ("wrapper_properties", {"a": "b"}, {"jobtypeExtra": {"a": "b"}}),
    ("docker", {"dockerfile_path": "Dockerfile"}, {}),
    ("infrastructure_target", "kubernetes", {"infrastructureTarget": "kubernetes"}),
    ("extends", None, {}),
]


@pytest.mark.parametrize(("key", "value", "expected"), KEY_TABLE)
def test_each_manifest_key_becomes_its_job_field(key: str, value: Any, expected: Any) -> None:
    spec = convert(**{key: value})
    for field, wanted in expected.items():
        assert spec[field] == wanted
    if not expected:  # read and checked, but nothing in the Job changes
        assert spec == convert()


def test_every_key_of_the_original_manifest_is_in_the_table() -> None:
    tabled = {key for key, _, _ in KEY_TABLE} | {"lang", "secret_build_env_file"}
    tabled |= {"secret_runtime_env_file"}
    assert tabled == set(manifest.KEYS)


def test_version_defaults_to_0_0_1_and_names_the_job() -> None:
    rendered = manifest.to_job(BASE, "jobs")
    assert rendered.job["spec"]["version"] == "0.0.1"
    assert rendered.job["metadata"] == {"name": "adder-v0-0-1", "namespace": "jobs"}
    assert rendered.job["apiVersion"] == "racetrack.io/v1alpha1"
    assert rendered.job["kind"] == "Job"


def test_a_prerelease_version_gives_a_dns_name() -> None:
    assert manifest.job_object_name("scorer", "2.0.0-rc.1") == "scorer-v2-0-0-rc-1"


def test_lang_is_read_as_jobtype_with_a_warning() -> None:
    plain = {k: v for k, v in BASE.items() if k != "jobtype"}
    rendered = manifest.to_job({**plain, "lang": "python3:latest"}, "jobs")
    assert rendered.job["spec"]["jobtype"] == "python3:latest"
    assert rendered.warnings == ("lang: is deprecated. Use jobtype instead.",)


def test_deprecated_python_key_warns() -> None:
    rendered = manifest.to_job({**BASE, "python": {"entrypoint_path": "a.py"}}, "jobs")
    assert rendered.warnings == ("python: is deprecated. Use jobtype_extra instead.",)


def test_local_build_context_builds_the_pushed_artifact_instead_of_git() -> None:
    artifact = "127.0.0.1:5000/racetrack/sources/adder@sha256:" + "a" * 64
    plain = {k: v for k, v in BASE.items() if k != "git"}
    spec = manifest.to_job(plain, "jobs", source_artifact=artifact).job["spec"]
    assert spec["source"] == {"artifact": artifact}
    assert "git" not in spec


def test_annotations_go_on_the_job() -> None:
    rendered = manifest.to_job(BASE, "jobs", annotations={"racetrack.io/force": "true"})
    assert rendered.job["metadata"]["annotations"] == {"racetrack.io/force": "true"}


@pytest.mark.parametrize(
    ("key", "target", "suffix"),
    [
        ("secret_runtime_env_file", "secretRuntimeEnv", "runtime-env"),
        ("secret_build_env_file", "secretBuildEnv", "build-env"),
    ],
)
def test_secret_env_files_become_secrets_the_job_names(key: str, target: str, suffix: str) -> None:
    env = SecretEnv({"API_KEY": "s3cr3t", "OTHER": "x y"})
    data = {**BASE, "version": "1.0.0", key: ".secrets/x.env"}
    if key == "secret_runtime_env_file":
        rendered = manifest.to_job(data, "jobs", secret_runtime_env=env)
    else:
        rendered = manifest.to_job(data, "jobs", secret_build_env=env)
    name = f"adder-v1-0-0-{suffix}"
    assert rendered.job["spec"][target] == {"name": name}
    (secret,) = rendered.secrets
    assert secret["metadata"]["name"] == name
    assert secret["metadata"]["namespace"] == "jobs"
    assert secret["metadata"]["labels"]["racetrack.io/family"] == "adder"
    decoded = {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}
    assert decoded == {"API_KEY": "s3cr3t", "OTHER": "x y"}
    assert "s3cr3t" not in str(rendered.job)


def test_a_secret_is_owned_by_the_created_job() -> None:
    env = SecretEnv({"A": "1"})
    rendered = manifest.to_job(
        {**BASE, "secret_runtime_env_file": "r.env"}, "jobs", secret_runtime_env=env
    )
    created = {**rendered.job, "metadata": {**rendered.job["metadata"], "uid": "u-1"}}
    owned = manifest.owned_by(rendered.secrets[0], created)
    assert owned["metadata"]["ownerReferences"] == [
        {
            "apiVersion": "racetrack.io/v1alpha1",
            "kind": "Job",
            "name": "adder-v0-0-1",
            "uid": "u-1",
            "controller": False,
            "blockOwnerDeletion": False,
        }
    ]
    assert "ownerReferences" not in rendered.secrets[0]["metadata"]


# (manifest changes, the key the error names, words of the message)
ERROR_TABLE: list[tuple[dict[str, Any], str, str]] = [
    ({"name": None}, "name", "is required"),
    ({"name": "Invoice_Scorer"}, "name", "lowercase letters"),
    ({"name": "a" * 60, "version": "1.0.0"}, "name", "63 characters"),
    ({"owner_email": None}, "owner_email", "is required"),
    ({"owner_email": "nobody"}, "owner_email", "email address"),
    ({"version": "1.0"}, "version", "semantic version"),
    ({"version": 1.0}, "version", "must be a string"),
    ({"version": "1.0.0+build.5"}, "version", "without +build"),
    ({"jobtype": None}, "jobtype", "is required"),
    ({"jobtype": "python3"}, "jobtype", "NAME:VERSION"),
    ({"jobtype": "python3:2:1"}, "jobtype", "NAME:VERSION"),
    ({"lang": "python3:latest"}, "jobtype", "only one of jobtype and lang"),
    ({"git": None}, "git", "is required"),
    ({"git": "https://x"}, "git", "must be a map"),
    ({"git": {"branch": "main"}}, "git.remote", "is required"),
    ({"git": {"remote": "git@github.com:o/r.git"}}, "git.remote", "https://"),
    ({"git": {"remote": "https://x/r", "tag": "v1"}}, "git.tag", "is not a key of git"),
    ({"git": {"remote": "https://x/r", "directory": "../up"}}, "git.directory", "inside"),
    ({"git": {"remote": "https://x/r", "branch": "a b"}}, "git.branch", "branch name"),
    ({"image_type": "podman"}, "image_type", "only docker"),
    ({"docker": {"dockerfile_path": "build/Dockerfile.prod"}}, "docker.dockerfile_path", "root"),
    ({"docker": {"context": "."}}, "docker.context", "only dockerfile_path"),
    ({"system_dependencies": "curl"}, "system_dependencies", "list of strings"),
    ({"system_dependencies": ["Bad Pkg"]}, "system_dependencies.0", "Debian package"),
    ({"build_env": {"N": 3}}, "build_env.N", "must be a string"),
    ({"build_env": {"RACETRACK_X": "1"}}, "build_env", "RACETRACK_"),
    ({"runtime_env": ["A=1"]}, "runtime_env", "must be a map"),
    ({"runtime_env": {"FLAG": True}}, "runtime_env.FLAG", "quote it"),
    ({"runtime_env": {"JOB_NAME": "x"}}, "runtime_env", "reserved"),
    ({"runtime_env": {"1BAD": "x"}}, "runtime_env", "environment variable names"),
    ({"labels": ["a"]}, "labels", "must be a map"),
    ({"public_endpoints": "/api/v1/perform"}, "public_endpoints", "list of paths"),
    ({"replicas": 51}, "replicas", "less than or equal to 50"),
    ({"replicas": "2"}, "replicas", "whole number"),
    ({"replicas": -1}, "replicas", "greater than or equal to 0"),
    ({"resources": {"memory": "1Gi"}}, "resources.memory", "is not a key of resources"),
    ({"resources": {"memory_min": "lots"}}, "resources.memory_min", "quantity"),
    ({"resources": {"cpu_min": "2", "cpu_max": "1"}}, "resources", "cpu_min must not be greater"),
    ({"jobtype_extra": {"a": 1}, "python": {"b": 2}}, "python", "only one of"),
    ({"jobtype_extra": "entrypoint.py"}, "jobtype_extra", "must be a map"),
    ({"secret_runtime_env_file": "r.env"}, "secret_runtime_env_file", "not read"),
    ({"owner": "x@y"}, "owner", "is not a manifest key"),
]


@pytest.mark.parametrize(("changes", "key", "words"), ERROR_TABLE)
def test_errors_name_the_manifest_key(changes: dict[str, Any], key: str, words: str) -> None:
    data = {k: v for k, v in {**BASE, **changes}.items() if v is not None}
    with pytest.raises(ManifestError) as raised:
        manifest.to_job(data, "jobs")
    assert raised.value.key == key
    assert words in raised.value.message
    assert str(raised.value).startswith(f"{key}: ")


def test_a_secret_variable_name_must_be_an_env_name() -> None:
    with pytest.raises(ManifestError) as raised:
        manifest.to_job(
            {**BASE, "secret_runtime_env_file": "r.env"},
            "jobs",
            secret_runtime_env=SecretEnv({"BAD-NAME": "x"}),
        )
    assert raised.value.key == "secret_runtime_env_file"
    assert "BAD-NAME" in raised.value.message


# --- extends and -e ---------------------------------------------------------------------------


def test_an_overlay_merges_maps_and_replaces_everything_else() -> None:
    base = {
        "name": "totals",
        "runtime_env": {"CURRENCY": "EUR", "ROUNDING": "2"},
        "public_endpoints": ["/a", "/b"],
        "git": {"remote": "https://x", "directory": "svc"},
    }
    overlay = {
        "extends": "base.yaml",
        "name": "totals-dev",
        "runtime_env": {"CURRENCY": "PLN"},
        "public_endpoints": ["/c"],
    }
    assert manifest_input.merge_overlay(base, overlay) == {
        "name": "totals-dev",
        "runtime_env": {"CURRENCY": "PLN", "ROUNDING": "2"},
        "public_endpoints": ["/c"],
        "git": {"remote": "https://x", "directory": "svc"},
    }


@pytest.mark.parametrize(
    ("path", "base", "words"),
    [
        ("/abs/base.yaml", None, "is absolute"),
        ("base.yaml", {"extends": "other.yaml"}, "only one level"),
        (3, None, "path of the base manifest"),
    ],
)
def test_extends_refuses_absolute_paths_and_chains(path: Any, base: Any, words: str) -> None:
    with pytest.raises(ManifestError) as raised:
        manifest_input.check_extends(path, base)
    assert raised.value.key == "extends"
    assert words in raised.value.message


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("replicas=7", {"replicas": 7}),
        ("version=1.2.3", {"version": "1.2.3"}),
        ("git.branch=dev", {"git": {"remote": "https://x", "branch": "dev"}}),
        ('git={"remote": "https://y"}', {"git": {"remote": "https://y"}}),
        ("runtime_env.NEW=a b", {"runtime_env": {"NEW": "a b", "OLD": "1"}}),
        ("labels.tier=1", {"labels": {"tier": 1}}),
        ("resources.cpu_max=1000m", {"resources": {"cpu_max": "1000m"}}),
        ("public_endpoints=[/a, /b]", {"public_endpoints": ["/a", "/b"]}),
        ("owner_email=", {"owner_email": ""}),
    ],
)
def test_overrides_walk_dotted_keys_and_read_values_as_yaml_or_json(
    override: str, expected: dict[str, Any]
) -> None:
    start = {"git": {"remote": "https://x"}, "runtime_env": {"OLD": "1"}}
    result = manifest_input.apply_overrides(start, [override])
    for key, value in expected.items():
        assert result[key] == value
    assert start == {"git": {"remote": "https://x"}, "runtime_env": {"OLD": "1"}}


@pytest.mark.parametrize(
    ("override", "key"),
    [("replicas", "-e replicas"), ("=3", "-e =3"), ("a..b=1", "-e a..b=1"), ("name.x=1", "name")],
)
def test_bad_overrides_say_which(override: str, key: str) -> None:
    with pytest.raises(ManifestError) as raised:
        manifest_input.apply_overrides({"name": "adder"}, [override])
    assert raised.value.key == key


# --- secret env files ---------------------------------------------------------------------------


def test_env_files_are_read_as_the_original_read_them() -> None:
    text = (
        '# comment\n; also a comment\n\nAPI_KEY = abc=def\nQuoted="with spaces"\n'
        "single='x'\nMixedCase=1\n"
    )
    assert manifest_input.parse_env_file(text, "secret_runtime_env_file").values == {
        "API_KEY": "abc=def",
        "Quoted": "with spaces",
        "single": "x",
        "MixedCase": "1",
    }


def test_a_line_without_a_value_names_the_key_and_line() -> None:
    with pytest.raises(ManifestError) as raised:
        manifest_input.parse_env_file("A=1\njust words\n", "secret_build_env_file")
    assert str(raised.value) == "secret_build_env_file: line 2 is not KEY=value"


# --- reading the files ----------------------------------------------------------------------------


def test_loading_a_folder_resolves_extends_overrides_and_secret_files(tmp_path: Path) -> None:
    (tmp_path / "base.yaml").write_text(
        "name: totals\nowner_email: a@b.c\njobtype: python3:latest\n"
        "git: {remote: 'https://x/r'}\nruntime_env: {A: '1', B: '2'}\n"
    )
    (tmp_path / "job.yaml").write_text(
        "extends: base.yaml\nname: totals-dev\nruntime_env: {B: '3'}\n"
        "secret_runtime_env_file: .secrets/runtime.env\n"
    )
    (tmp_path / ".secrets").mkdir()
    (tmp_path / ".secrets" / "runtime.env").write_text("TOKEN=t0k3n\n")
    loaded = manifest_files.load(str(tmp_path), ["replicas=2"])
    assert loaded.folder == tmp_path
    assert loaded.data["name"] == "totals-dev"
    assert loaded.data["runtime_env"] == {"A": "1", "B": "3"}
    assert loaded.data["replicas"] == 2
    assert "extends" not in loaded.data
    assert loaded.secret_runtime_env == SecretEnv({"TOKEN": "t0k3n"})
    assert manifest_files.load(str(tmp_path / "job.yaml"), []).data["name"] == "totals-dev"


@pytest.mark.parametrize(
    ("files", "key", "words"),
    [
        ({}, "job.yaml", "doesn't exist"),
        ({"job.yaml": "name: [unclosed"}, "job.yaml", "not valid YAML"),
        ({"job.yaml": "- a list"}, "job.yaml", "must be a map"),
        ({"job.yaml": "extends: base.yaml\n"}, "extends", "doesn't exist"),
        ({"job.yaml": "extends: b.yaml\n", "b.yaml": "extends: c.yaml\n"}, "extends", "one level"),
        ({"job.yaml": "secret_runtime_env_file: r.env\n"}, "secret_runtime_env_file", "exist"),
        ({"job.yaml": "secret_build_env_file: b.env\n"}, "secret_build_env_file", "exist"),
    ],
)
def test_loading_errors_name_the_key(
    tmp_path: Path, files: dict[str, str], key: str, words: str
) -> None:
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    with pytest.raises(ManifestError) as raised:
        manifest_files.load(str(tmp_path), [])
    assert raised.value.key == key
    assert words in raised.value.message


def test_the_legacy_manifest_name_is_read_with_a_warning(tmp_path: Path) -> None:
    (tmp_path / "fatman.yaml").write_text("name: old\n")
    loaded = manifest_files.load(str(tmp_path), [])
    assert loaded.data == {"name": "old"}
    assert "fatman.yaml" in loaded.warnings[0]


EXAMPLES = Path(__file__).parents[3] / "examples" / "jobs"


@pytest.mark.parametrize("folder", sorted(p.name for p in EXAMPLES.iterdir()))
def test_every_example_job_folder_converts_to_a_valid_job(folder: str) -> None:
    # The secret file itself is never committed; its example stands in for it.
    examples = sorted((EXAMPLES / folder).glob("*.env.example"))
    overrides = [f"secret_runtime_env_file={path.name}" for path in examples]
    loaded = manifest_files.load(str(EXAMPLES / folder), overrides)
    rendered = manifest.to_job(loaded.data, "default", secret_runtime_env=loaded.secret_runtime_env)
    Job.model_validate(rendered.job)
    assert len(rendered.secrets) == len(examples)


def test_a_prebuilt_image_replaces_what_would_be_built() -> None:
    image = "registry.example.org/racetrack/adder:1.0.0"
    spec = manifest.to_job(BASE, "jobs", image=image).job["spec"]
    assert spec["image"] == image
    assert "git" not in spec and "source" not in spec


def test_system_dependencies_need_a_build_not_an_image() -> None:
    with pytest.raises(ManifestError) as raised:
        manifest.to_job({**BASE, "system_dependencies": ["curl"]}, "jobs", image="r/i:1")
    assert raised.value.key == "system_dependencies"


def test_without_a_namespace_the_objects_name_none() -> None:
    rendered = manifest.to_job(
        {**BASE, "secret_build_env_file": "b.env"}, None, secret_build_env=SecretEnv({"A": "1"})
    )
    assert "namespace" not in rendered.job["metadata"]
    assert "namespace" not in rendered.secrets[0]["metadata"]
