"""Configuration from environment variables and flags: what a deployment can set."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from racetrack_job_runtime.config import ENV_VARS, ConfigError, load_config, split_entrypoint


def test_defaults_match_the_original_job_port_and_limits() -> None:
    config = load_config({"JOB_ENTRYPOINT_PATH": "job.py"})
    assert config.port == 7000
    assert config.host == "0.0.0.0"
    assert config.max_concurrency == 0
    assert config.max_concurrency_queue is None
    assert config.home_page == "/docs"
    assert config.tracing_header == "X-Request-Tracing-Id"
    assert config.access_log is True


def test_environment_configures_everything_so_the_image_needs_no_arguments() -> None:
    env = {
        "JOB_ENTRYPOINT_PATH": "src/job.py:Model",
        "JOB_PORT": "8123",
        "JOB_MAX_CONCURRENCY": "2",
        "JOB_MAX_CONCURRENCY_QUEUE": "0",
        "JOB_MAX_BODY_BYTES": "1000",
        "JOB_PERFORM_TIMEOUT": "2.5",
        "JOB_HOME_PAGE": "api/v1/webview",
        "LOG_STRUCTURED": "yes",
        "JOB_ACCESS_LOG": "false",
        "REQUEST_TRACING_HEADER": "X-Trace",
        "JOB_NAME": "adder",
        "JOB_VERSION": "1.2.3",
    }
    config = load_config(env)
    assert (config.entrypoint_path, config.entrypoint_class) == ("src/job.py", "Model")
    assert config.port == 8123
    assert config.max_concurrency == 2
    assert config.max_concurrency_queue == 0
    assert config.max_body_bytes == 1000
    assert config.perform_timeout == 2.5
    assert config.home_page == "/api/v1/webview"
    assert config.log_structured is True
    assert config.access_log is False
    assert config.tracing_header == "X-Trace"
    assert (config.job_name, config.job_version) == ("adder", "1.2.3")


def test_flags_win_over_environment() -> None:
    env = {"JOB_ENTRYPOINT_PATH": "a.py", "JOB_PORT": "8000", "JOB_ENTRYPOINT_CLASS": "A"}
    config = load_config(env, entrypoint="b.py:B", port=9000, host="127.0.0.1")
    assert (config.entrypoint_path, config.entrypoint_class) == ("b.py", "B")
    assert (config.port, config.host) == (9000, "127.0.0.1")


def test_zero_timeout_disables_it() -> None:
    assert load_config({"JOB_PERFORM_TIMEOUT": "0"}, entrypoint="a.py").perform_timeout is None


@pytest.mark.parametrize(
    ("name", "value", "fragment"),
    [
        ("JOB_PORT", "seven", "JOB_PORT must be an integer"),
        ("JOB_PORT", "70000", "JOB_PORT must be at least 1 and at most 65535"),
        ("JOB_MAX_CONCURRENCY", "-1", "JOB_MAX_CONCURRENCY must be at least 0"),
        ("JOB_PERFORM_TIMEOUT", "soon", "JOB_PERFORM_TIMEOUT must be a number"),
        ("LOG_STRUCTURED", "maybe", "LOG_STRUCTURED must be true or false"),
    ],
)
def test_bad_values_name_the_variable(name: str, value: str, fragment: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(fragment)):
        load_config({name: value}, entrypoint="a.py")


def test_missing_entrypoint_says_how_to_give_one() -> None:
    with pytest.raises(ConfigError, match="JOB_ENTRYPOINT_PATH"):
        load_config({})


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("job.py", ("job.py", None)),
        ("dir/job.py:MyJob", ("dir/job.py", "MyJob")),
        ("C:/dir/job.py", ("C:/dir/job.py", None)),
        ("job.py:", ("job.py:", None)),
    ],
)
def test_split_entrypoint(value: str, expected: tuple[str, str | None]) -> None:
    assert split_entrypoint(value) == expected


def test_every_env_var_is_documented() -> None:
    doc = (Path(__file__).parents[3] / "docs" / "job-runtime.md").read_text()
    missing = [name for name in ENV_VARS if f"`{name}`" not in doc]
    assert not missing, f"docs/job-runtime.md does not mention {missing}"


def test_caller_name_logging_and_the_proxys_user_module() -> None:
    config = load_config({}, require_entrypoint=False)
    assert config.entrypoint_path == ""
    assert (config.caller_header, config.log_caller_name) == ("X-Caller-Name", False)
    assert (config.user_module_host, config.user_module_port) == ("localhost", 7001)
    env = {
        "LOG_CALLER_NAME": "True",
        "CALLER_NAME_HEADER": "X-Who",
        "JOB_USER_MODULE_HOSTNAME": "user",
        "JOB_USER_MODULE_PORT": "7004",
    }
    config = load_config(env, require_entrypoint=False)
    assert (config.caller_header, config.log_caller_name) == ("X-Who", True)
    assert (config.user_module_host, config.user_module_port) == ("user", 7004)
    with pytest.raises(ConfigError, match="LOG_CALLER_NAME must be true or false"):
        load_config({"LOG_CALLER_NAME": "sometimes"}, require_entrypoint=False)
    with pytest.raises(ConfigError, match="JOB_USER_MODULE_PORT must be at least 1"):
        load_config({"JOB_USER_MODULE_PORT": "0"}, require_entrypoint=False)
    with pytest.raises(ConfigError, match="no entrypoint given"):
        load_config({})
