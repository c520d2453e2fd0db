"""Operator settings from RACETRACK_* variables, and errors that name the variable."""

from __future__ import annotations

import pytest

from racetrack_operator.settings import Settings, SettingsError


def test_settings_from_env() -> None:
    settings = Settings.from_env(
        {
            "RACETRACK_NAMESPACES": "a, b",
            "RACETRACK_METRICS_PORT": "0",
            "RACETRACK_STALLED_RETRY_SECONDS": "2.5",
            "UNRELATED": "x",
        }
    )
    assert settings.namespaces == ("a", "b")
    assert settings.metrics_port == 0
    assert settings.stalled_retry_seconds == 2.5
    assert Settings.from_env({}) == Settings()


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"RACETRACK_METRICS_PORT": "ninety"}, "RACETRACK_METRICS_PORT must be an integer"),
        ({"RACETRACK_IMAGE_PULL_POLICY": "Sometimes"}, "RACETRACK_IMAGE_PULL_POLICY must be"),
        ({"RACETRACK_OBJECT_WORKERS": "0"}, "RACETRACK_OBJECT_WORKERS must be at least 1"),
        ({"RACETRACK_API_CONCURRENCY": "-4"}, "RACETRACK_API_CONCURRENCY must be at least 1"),
        ({"RACETRACK_API_RETRY_SECONDS": "0"}, "RACETRACK_API_RETRY_SECONDS must be more than 0"),
        ({"RACETRACK_MAX_CONCURRENT_BUILDS": "0"}, "RACETRACK_MAX_CONCURRENT_BUILDS must be at"),
        ({"RACETRACK_BUILD_ENV": "PIP_PRE"}, "RACETRACK_BUILD_ENV must be comma-separated NAME"),
        (
            {"RACETRACK_BUILD_REGISTRY_MIRRORS": "https://docker.io"},
            "RACETRACK_BUILD_REGISTRY_MIRRORS must be comma-separated registry names",
        ),
        (
            {
                "RACETRACK_REGISTRY": "registry.example.org",
                "RACETRACK_PYTHON3_BASE_IMAGE": "docker.io/library/python:3.11",
            },
            "RACETRACK_PYTHON3_BASE_IMAGE must be in RACETRACK_REGISTRY",
        ),
    ],
)
def test_bad_settings_name_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        Settings.from_env(env)


def test_build_settings() -> None:
    settings = Settings.from_env(
        {
            "RACETRACK_REGISTRY": "127.0.0.1:5000",
            "RACETRACK_REGISTRY_ENDPOINT": "http://10.237.0.1:5000",
            "RACETRACK_BUILD_ENV": "PIP_NO_INDEX=1,PIP_FIND_LINKS=https://10.237.0.1/wheels/",
        }
    )
    assert settings.registry_url == "http://10.237.0.1:5000"
    assert settings.build_env_map() == {
        "PIP_NO_INDEX": "1",
        "PIP_FIND_LINKS": "https://10.237.0.1/wheels/",
    }
    assert Settings(registry="registry.example.org").registry_url == "https://registry.example.org"
    mirrored = Settings.from_env(
        {"RACETRACK_BUILD_REGISTRY_MIRRORS": "docker.io,ghcr.io=mirror.example.org:5000"}
    )
    assert mirrored.build_registry_mirrors == ("docker.io", "ghcr.io=mirror.example.org:5000")


def test_the_platform_namespace_is_always_watched() -> None:
    assert Settings().platform_namespace == "racetrack-system"
    assert Settings().watched_namespaces == ()  # all of them
    restricted = Settings.from_env(
        {"RACETRACK_NAMESPACES": "a", "RACETRACK_PLATFORM_NAMESPACE": "rt-admin"}
    )
    assert restricted.watched_namespaces == ("a", "rt-admin")
    assert Settings(
        namespaces=("rt-admin", "b"), platform_namespace="rt-admin"
    ).watched_namespaces == (
        "rt-admin",
        "b",
    )


def test_a_platform_namespace_that_cannot_be_one_is_refused() -> None:
    with pytest.raises(SettingsError, match="RACETRACK_PLATFORM_NAMESPACE must be a namespace"):
        Settings.from_env({"RACETRACK_PLATFORM_NAMESPACE": "Racetrack_System"})
