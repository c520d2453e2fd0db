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
    ],
)
def test_bad_settings_name_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        Settings.from_env(env)
