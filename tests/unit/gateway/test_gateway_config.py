"""haproxy.cfg and the files HAProxy starts from (tests/gateway runs them in HAProxy)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from racetrack_gateway.render import answers, config, tables

RUN = Path("/run/gw")


def cfg(**overrides: object) -> config.ConfigInput:
    values: dict[str, object] = {"run_dir": RUN, "bind": ("0.0.0.0:7205",), "buckets": 8}
    values.update(overrides)
    return config.ConfigInput(**values)  # type: ignore[arg-type]


def test_every_bucket_is_a_backend_and_servers_start_in_theirs() -> None:
    text = config.render_config(cfg(servers={"ml.adder-v1": "b3 10.0.0.1:7000"}))
    assert re.findall(r"^backend (b\d+)$", text, re.M) == [f"b{i}" for i in range(8)]
    b3 = text.split("backend b3\n")[1].split("\n\n")[0]
    assert "    server ml.adder-v1 10.0.0.1:7000 weight 0 pool-purge-delay 30s" in b3


def test_listeners_threads_and_the_socket_follow_the_settings() -> None:
    text = config.render_config(cfg(bind=("127.0.0.1:1", "10.0.0.2:1"), threads=2))
    assert "    bind 127.0.0.1:1\n    bind 10.0.0.2:1\n" in text
    assert "    nbthread 2\n" in text
    assert f"stats socket {RUN}/haproxy.sock mode 600 level admin" in text


def test_haproxy_buffers_are_16_kb_unless_the_settings_say_otherwise() -> None:
    assert "    tune.bufsize 16384\n" in config.render_config(cfg())
    text = config.render_config(cfg(buffer_bytes=8192))
    assert "    tune.bufsize 8192\n" in text.split("\n\n")[0]  # in the global section


def test_without_access_log_nothing_is_logged() -> None:
    assert "log-format" not in config.render_config(cfg(access_log=False))
    assert "log stdout" not in config.render_config(cfg(access_log=False))


def test_the_access_log_carries_no_header_so_no_token() -> None:
    text = config.render_config(cfg())
    (log_format,) = re.findall(r'log-format "(.*)"', text)
    assert "hdr" not in log_format and "%hr" not in log_format and "%CC" not in log_format


def test_token_headers_never_reach_the_job() -> None:
    text = config.render_config(cfg())
    for header in config.TOKEN_HEADERS:
        assert f"http-request del-header {header}" in text


def test_the_files_are_the_config_the_answers_and_one_map_per_table() -> None:
    entries = tables.empty()
    entries[tables.TOKENS] = {"ab" * 32: "u/alice"}
    files = config.render_files(cfg(), entries)
    assert files[f"{tables.TOKENS}.map"] == f"{'ab' * 32} u/alice\n"
    assert {f"{t}.map" for t in tables.MAPS} <= set(files)
    assert {f"answers/{name}" for name in answers.answers("X", "/m")} <= set(files)


def test_every_answer_is_json_once_its_samples_are_filled_in() -> None:
    for name, body in answers.answers("X-Racetrack-Auth", "/run/state.map").items():
        filled = re.sub(r"%\[[^\]]*\]", "sample", body)
        document = json.loads(filled)
        assert "sample" in document["requestId"], name
        assert document["error"], name


def test_each_permission_lookup_is_built_from_the_calls_variables_in_order() -> None:
    text = config.render_config(cfg())
    perms = f"map_beg({RUN}/{tables.PERMS}.map)"
    assert re.findall(r"^    acl (granted\d) (\S+)", text, re.M)[:4] == [
        (
            "granted1",
            "var(txn.subject),concat(|,txn.ns),concat(|,txn.fam),concat(|,txn.ver),"
            f"concat(|,txn.ep),{perms}",
        ),
        (
            "granted2",
            f"var(txn.subject),concat(|,txn.ns),concat(|,txn.fam),concat(|,txn.ep),{perms}",
        ),
        ("granted3", f"var(txn.subject),concat(|,txn.ns),concat(|,txn.ep),{perms}"),
        ("granted4", f"var(txn.subject),concat(|*|,txn.ep),{perms}"),
    ]


def test_a_call_that_passes_every_check_meets_no_answer_in_the_frontend() -> None:
    """The checks' answers live in ``refusals``: the frontend's only answer is the 405 of an
    asynchronous call's method, which a plain call never meets."""
    text = config.render_config(cfg())
    frontend = text.split("frontend gateway\n")[1].split("\n\n")[0]
    returns = [line for line in frontend.splitlines() if "http-request return" in line]
    assert (
        len(returns) == 1
        and "status 405" in returns[0]
        and returns[0].endswith("if async !METH_GET !METH_POST")
    )
    refusals = text.split("backend refusals\n")[1].split("\n\n")[0]
    # The original's order: the route before the caller, authentication before permission.
    assert re.findall(r"answers/([a-z-]+)\.json", refusals) == [
        "not-a-route",
        "bad-path",
        "not-a-route",
        "not-a-route",
        "many-tokens",
        "maintenance",
        "no-family",
        "no-alias",
        "no-version",
        "no-token",
        "bad-token",
        "forbidden",
        "not-serving",
    ]
