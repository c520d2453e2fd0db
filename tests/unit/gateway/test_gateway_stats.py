"""HAProxy's counters, last call times and the settings."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest

from racetrack_gateway import lastcall, stats
from racetrack_gateway.settings import Settings, SettingsError

HEADER = (
    "# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,"
    "wretr,wredis,status,hrsp_1xx,hrsp_2xx,hrsp_3xx,hrsp_4xx,hrsp_5xx,hrsp_other,lastsess,ttime"
)
CSV = "\n".join(
    [
        HEADER,
        "gateway,FRONTEND,,,0,1,,50,,,,,,,,,,OPEN,0,30,0,15,5,0,,",
        "b3,ml.adder-v1,0,0,0,1,,30,,,,,,1,2,3,0,UP,0,28,0,1,1,0,7,12",
        "b3,BACKEND,0,0,0,1,,30,,,,,,1,2,3,0,UP,0,28,0,1,1,0,7,12",
        "b4,ml.never,0,0,0,0,,0,,,,,,0,0,0,0,UP,0,0,0,0,0,0,-1,0",
    ]
)


def test_server_rows_and_the_frontend_are_read() -> None:
    rows = stats.parse(CSV)
    servers = stats.servers(rows)
    assert set(servers) == {"ml.adder-v1", "ml.never"}
    adder = servers["ml.adder-v1"]
    assert (
        adder.sessions,
        adder.responses["2xx"],
        adder.connect_errors,
        adder.response_errors,
    ) == (30, 28, 1, 2)
    assert (adder.seconds_since_last, adder.average_total_ms) == (7, 12)
    assert servers["ml.never"].seconds_since_last is None
    front = stats.frontend(rows)
    assert front is not None and front.responses["4xx"] == 15


def test_a_last_call_is_written_only_when_a_minute_newer_than_the_stored_one() -> None:
    now = datetime.datetime(2026, 1, 1, 12, tzinfo=datetime.UTC)
    called = lastcall.called_at(now, 7)
    assert called == now - datetime.timedelta(seconds=7)
    assert lastcall.called_at(now, None) is None
    assert lastcall.worth_writing(None, called, 60)
    assert not lastcall.worth_writing(called, called, 60)
    assert not lastcall.worth_writing(called, called + datetime.timedelta(seconds=59), 60)
    assert lastcall.worth_writing(called, called + datetime.timedelta(seconds=60), 60)
    assert not lastcall.worth_writing(called, called - datetime.timedelta(hours=1), 60)
    assert not lastcall.worth_writing(None, None, 60)
    assert lastcall.to_wire(now) == "2026-01-01T12:00:00Z"


def test_settings_from_the_environment() -> None:
    settings = Settings.from_env(
        {
            "RACETRACK_GATEWAY_BIND": "127.0.0.1:1, 10.0.0.2:2",
            "RACETRACK_GATEWAY_RUN_DIR": "/tmp/x",
            "RACETRACK_GATEWAY_ALLOW_UPSTREAM_OVERRIDE": "yes",
            "RACETRACK_GATEWAY_BUCKETS": "16",
            "RACETRACK_GATEWAY_RESYNC_SECONDS": "2.5",
        }
    )
    assert settings.bind == ("127.0.0.1:1", "10.0.0.2:2")
    assert settings.socket_path == Path("/tmp/x/haproxy.sock")
    assert settings.allow_upstream_override
    assert (settings.buckets, settings.resync_seconds) == (16, 2.5)
    assert not Settings.from_env({}).allow_upstream_override


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("BIND", "7205", "ADDRESS:PORT"),
        ("BUCKETS", "0", "BUCKETS"),
        ("BUCKETS", "many", "an integer"),
        ("ACCESS_LOG", "maybe", "true or false"),
        ("STATS_SECONDS", "0", "positive"),
        ("HAPROXY_BUFFER_BYTES", "1024", "between 4096 and 1048576"),
    ],
)
def test_bad_settings_name_the_variable(name: str, value: str, message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        Settings.from_env({f"RACETRACK_GATEWAY_{name}": value})


def test_metrics_keep_the_original_pub_names_per_job_version() -> None:
    from prometheus_client import generate_latest

    from racetrack_gateway import metrics
    from racetrack_gateway.index import ServerInfo

    exported = metrics.create()
    rows = stats.parse(CSV)
    exported.jobs.reading = metrics.Reading(
        servers=stats.servers(rows),
        who={"ml.adder-v1": ServerInfo("ml", "adder-v1", "adder", "1.0.0")},
        frontend=stats.frontend(rows),
        last_calls={"ml.adder-v1": 1700000000.0},
    )
    text = generate_latest(exported.registry).decode()
    labels = 'job_name="adder",job_version="1.0.0"'
    assert f"pub_job_proxy_requests{{{labels}}} 30.0" in text
    assert f'pub_job_proxy_response_codes{{{labels},status_code="2xx"}} 28.0' in text
    assert f"pub_job_proxy_errors{{{labels}}} 3.0" in text
    assert f"pub_job_call_response_time_average_seconds{{{labels}}} 0.012" in text
    assert f"pub_job_last_call_timestamp_seconds{{{labels}}} 1.7e+09" in text
    assert 'pub_responses{status_code="4xx"} 15.0' in text
    assert "ml.never" not in text  # a server nobody is known for is not exported
