"""The pure half of python3 builds: the requirements layer's cache key, the job image's
config and its tag."""

from __future__ import annotations

from typing import Any

from racetrack_builder import compose

BASE_CONFIG = "sha256:" + "1" * 64
REQUIREMENTS = b"numpy==2.3.0\n"
PIP = {"PIP_INDEX_URL": "https://pypi.example.org/simple"}


def test_the_cache_key_follows_each_input() -> None:
    key = compose.dependencies_key(BASE_CONFIG, REQUIREMENTS, PIP)
    assert len(key) == 64 and int(key, 16) >= 0
    assert compose.dependencies_key(BASE_CONFIG, REQUIREMENTS, dict(PIP)) == key
    others = {
        compose.dependencies_key("sha256:" + "2" * 64, REQUIREMENTS, PIP),
        compose.dependencies_key(BASE_CONFIG, b"numpy==2.3.1\n", PIP),
        compose.dependencies_key(BASE_CONFIG, REQUIREMENTS, {**PIP, "PIP_PRE": "1"}),
        compose.dependencies_key(BASE_CONFIG, REQUIREMENTS, {}),
    }
    assert key not in others and len(others) == 4


def test_only_pip_settings_that_change_what_is_installed_count() -> None:
    env = {
        **PIP,
        "PIP_CERT": "/etc/ca.pem",
        "PIP_NO_CACHE_DIR": "1",
        "PIP_TIMEOUT": "60",
        "PIP_EXTRA_INDEX_URL": "https://extra.example.org",
        "HOME": "/tmp",
    }
    assert compose.pip_settings(env) == {
        "PIP_EXTRA_INDEX_URL": "https://extra.example.org",
        "PIP_INDEX_URL": "https://pypi.example.org/simple",
    }


def base() -> dict[str, Any]:
    return {
        "created": "1970-01-01T00:00:00Z",
        "architecture": "amd64",
        "os": "linux",
        "config": {
            "Env": ["PATH=/usr/bin", "VENV_PACKAGES_PATH=/old"],
            "Cmd": ["python3"],
            "Entrypoint": ["/bin/sh"],
            "Labels": {"io.racetrack.recipe": "base"},
        },
        "rootfs": {"type": "layers", "diff_ids": ["sha256:os", "sha256:runtime"]},
        "history": [{"created_by": "os"}, {"created_by": "runtime"}],
    }


def test_the_job_config_runs_the_runtime_from_the_code_folder() -> None:
    config = compose.job_config(
        base(),
        ["sha256:deps", "sha256:code"],
        revision="abc",
        source="https://git",
        with_packages=True,
    )
    runtime = config["config"]
    assert runtime["Env"] == [
        "PATH=/usr/bin",
        "VENV_PACKAGES_PATH=/job-packages",
        "GIT_VERSION=abc",
    ]
    assert runtime["WorkingDir"] == "/job" and runtime["Cmd"] == ["racetrack-job", "run"]
    assert "Entrypoint" not in runtime
    assert runtime["Labels"] == {
        "io.racetrack.recipe": "base",
        compose.REVISION_LABEL: "abc",
        compose.SOURCE_LABEL: "https://git",
    }
    assert config["rootfs"]["diff_ids"] == [
        "sha256:os",
        "sha256:runtime",
        "sha256:deps",
        "sha256:code",
    ]
    assert [h["created_by"] for h in config["history"]] == [
        "os",
        "runtime",
        "racetrack-builder",
        "racetrack-builder",
    ]
    assert base()["config"]["Cmd"] == ["python3"]  # the base's config is not modified


def test_without_requirements_there_is_no_packages_path_and_history_still_matches() -> None:
    original = base()
    original.pop("history")  # a base image written without history
    config = compose.job_config(
        original, ["sha256:code"], revision="r", source="", with_packages=False
    )
    assert not any(item.startswith("VENV_PACKAGES_PATH") for item in config["config"]["Env"])
    assert len(config["history"]) == len(config["rootfs"]["diff_ids"]) == 3


def test_tags_name_the_version_and_the_revision() -> None:
    assert compose.image_tag("1.2.3-rc.1", "3f2a9c1d0b7e55aa") == "1.2.3-rc.1-3f2a9c1d0b7e"
    assert compose.image_tag("1.0.0", "sha256:" + "ab" * 32) == "1.0.0-abababababab"


def test_the_platform_version_that_built_the_image_is_in_its_environment() -> None:
    original = base()
    # A base (or an earlier job image) carrying another version: ours replaces it.
    original["config"]["Env"].append(f"{compose.PLATFORM_VERSION_ENV}=0.0.9")
    config = compose.job_config(
        original, ["sha256:code"], revision="abc", source="", with_packages=False,
        platform_version="1.4.0",
    )  # fmt: skip
    assert config["config"]["Env"] == [
        "PATH=/usr/bin",
        "GIT_VERSION=abc",
        "DEPLOYED_BY_RACETRACK_VERSION=1.4.0",
    ]
    unknown = compose.job_config(
        base(), ["sha256:code"], revision="abc", source="", with_packages=False
    )
    assert not any(e.startswith("DEPLOYED_BY_") for e in unknown["config"]["Env"])
