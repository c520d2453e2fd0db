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
    ],
)
def test_bad_settings_name_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        Settings.from_env(env)


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
