"""``racetrack deploy/list/delete/logs/call`` without a cluster: progress from conditions,
version resolution, the list table, exit codes and what is printed."""

from __future__ import annotations

import datetime
import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
import yaml

from racetrack_cli import deploy, endpoints, jobs, main, progress
from racetrack_kube.client import ApiError

EXAMPLES = Path(__file__).parents[3] / "examples" / "jobs"


def job(
    version: str,
    *conditions: tuple[str, str, str],
    generation: int = 1,
    observed: int = 1,
    **status: Any,
) -> dict[str, Any]:
    return {
        "metadata": {
            "name": f"adder-v{version.replace('.', '-')}",
            "generation": generation,
            "creationTimestamp": "2026-01-01T00:00:00Z",
        },
        "spec": {"name": "adder", "version": version, "ownerEmail": "o@example.org"},
        "status": {
            "observedGeneration": observed,
            "conditions": [
                {"type": t, "status": s, "reason": r, "message": f"{r} message"}
                for t, s, r in conditions
            ],
            **status,
        },
    }


@pytest.mark.parametrize(
    ("conditions", "status", "observed", "phase", "detail"),
    [
        ((), {}, 0, "submitted", "waiting for the operator"),
        ((("Built", "Unknown", "Building"),), {"build": {"step": "dependencies"}}, 1, "building",
         "Building (dependencies): Building message"),
        ((("Built", "True", "BuildSucceeded"), ("Ready", "False", "RolloutInProgress")),
         {"replicas": 2, "readyReplicas": 1}, 1, "deploying", "1/2 pods ready"),
        ((("Ready", "True", "JobReady"),), {}, 1, "ready", "JobReady message"),
        ((("Stalled", "True", "UnknownJobType"), ("Ready", "False", "UnknownJobType")), {}, 1,
         "failed", "UnknownJobType: UnknownJobType message"),
    ],
)  # fmt: skip
def test_progress_follows_the_conditions(
    conditions: tuple[tuple[str, str, str], ...],
    status: dict[str, Any],
    observed: int,
    phase: str,
    detail: str,
) -> None:
    found = progress.progress(job("1.0.0", *conditions, observed=observed, **status))
    assert found.phase == phase
    assert found.detail.startswith(detail)


def test_an_old_ready_condition_is_not_taken_for_the_new_generation() -> None:
    stale = job("1.0.0", ("Ready", "True", "JobReady"), generation=2, observed=1)
    assert progress.progress(stale).phase == "submitted"


READY = ("Ready", "True", "JobReady")
NOT_READY = ("Ready", "False", "RolloutInProgress")


@pytest.mark.parametrize(
    ("versions", "asked", "expected"),
    [
        ([("1.0.0", READY), ("2.0.0", READY)], None, "2.0.0"),
        ([("1.0.0", READY), ("2.0.0", READY)], "latest", "2.0.0"),
        ([("1.0.0", READY), ("2.0.0", NOT_READY)], None, "1.0.0"),
        ([("1.0.0", READY), ("2.0.0-rc.1", READY)], None, "1.0.0"),
        ([("1.0.0", NOT_READY), ("1.2.0", NOT_READY)], None, "1.2.0"),
        ([("1.0.0", READY), ("2.0.0", READY)], "1.0.0", "1.0.0"),
        ([("1.0.0", READY)], "3.0.0", None),
        ([], None, None),
    ],
)
def test_without_a_version_the_latest_ready_release_is_meant(
    versions: list[tuple[str, tuple[str, str, str]]], asked: str | None, expected: str | None
) -> None:
    found = jobs.resolve([job(v, c) for v, c in versions], asked)
    assert (found["spec"]["version"] if found else None) == expected


def test_the_list_is_a_table_by_name_and_version() -> None:
    now = datetime.datetime(2026, 1, 1, 3, 0, tzinfo=datetime.UTC)
    lines = jobs.rows([job("10.0.0", READY), job("9.0.0", NOT_READY)], now, namespaces=False)
    assert lines[0].split() == ["NAME", "VERSION", "STATUS", "REASON", "OWNER", "AGE", "JOB"]
    assert lines[1].split() == [
        "adder", "9.0.0", "deploying", "RolloutInProgress", "o@example.org", "3h", "adder-v9-0-0",
    ]  # fmt: skip
    assert lines[2].split()[:4] == ["adder", "10.0.0", "ready", "JobReady"]


def test_a_bad_manifest_exits_2_naming_the_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "job.yaml").write_text("name: adder\nowner_email: a@b.c\njobtype: python3\n")
    assert main.main(["deploy", str(tmp_path), "--dry-run", "-n", "x"]) == 2
    err = capsys.readouterr().err
    assert "racetrack deploy: jobtype: 'python3' must be NAME:VERSION" in err
    assert "\x1b[" not in err  # no colour when stderr is not a terminal


def test_dry_run_prints_the_job_and_never_a_secret_value(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "job.yaml").write_text(
        "name: reader\nowner_email: a@b.c\njobtype: python3:latest\n"
        "git: {remote: 'https://x/r'}\nsecret_runtime_env_file: r.env\n"
    )
    (tmp_path / "r.env").write_text("API_KEY=very-secret\n")
    assert main.main(["deploy", str(tmp_path), "--dry-run", "-n", "jobs", "--force"]) == 0
    out, err = capsys.readouterr()
    printed = yaml.safe_load(out)
    assert printed["metadata"]["name"] == "reader-v0-0-1"
    assert printed["metadata"]["annotations"]["racetrack.io/force"] == "true"
    assert printed["spec"]["secretRuntimeEnv"] == {"name": "reader-v0-0-1-runtime-env"}
    assert "very-secret" not in out + err
    assert "Secret reader-v0-0-1-runtime-env with the keys API_KEY" in err


def test_deploy_reads_stdin(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import io

    text = (EXAMPLES / "primer" / "job.yaml").read_text()
    monkeypatch.setattr("sys.stdin", io.StringIO(text))
    assert main.main(["deploy", "-", "--dry-run", "-n", "jobs", "--image", "r.example/p:1"]) == 0
    printed = yaml.safe_load(capsys.readouterr().out)
    assert printed["spec"]["image"] == "r.example/p:1"
    assert printed["spec"]["version"] == "0.0.1"


def test_local_build_context_without_a_registry_exits_2(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv(endpoints.REGISTRY_ENV, raising=False)
    monkeypatch.setenv("RACETRACK_STATE_DIR", str(tmp_path))
    code = main.main(["deploy", str(EXAMPLES / "adder"), "--build-context", "local", "-n", "x"])
    assert code == 2
    assert "--registry" in capsys.readouterr().err


def test_the_gateway_comes_from_the_flag_the_environment_or_the_dev_cluster(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("RACETRACK_STATE_DIR", str(tmp_path))
    monkeypatch.delenv(endpoints.GATEWAY_ENV, raising=False)
    assert endpoints.gateway(None) == ""
    (tmp_path / "state.json").write_text(json.dumps({"gateway": "http://10.0.0.2:81/"}))
    assert endpoints.gateway(None) == "http://10.0.0.2:81"
    monkeypatch.setenv(endpoints.GATEWAY_ENV, "http://env:1")
    assert endpoints.gateway(None) == "http://env:1"
    assert endpoints.gateway("http://flag:2") == "http://flag:2"


class _Recorder(http.server.BaseHTTPRequestHandler):
    seen: ClassVar[list[tuple[str, str | None, Any]]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.seen.append((self.path, self.headers.get("X-Racetrack-Auth"), body))
        status = 200 if body.get("a") is not None else 400
        answer = b"42" if status == 200 else b'{"error": "missing a"}'
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def gateway() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Recorder.seen = []
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_call_posts_through_the_gateway_with_the_token(
    gateway: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(endpoints.TOKEN_ENV, "tok")
    assert main.main(["call", "adder", '{"a": 40, "b": 2}', "--gateway", gateway]) == 0
    assert capsys.readouterr().out == "42\n"
    assert main.main(["call", "adder", "1.0.0", '{"a": 1}', "--gateway", gateway]) == 0
    assert _Recorder.seen == [
        ("/pub/job/adder/latest/api/v1/perform", "tok", {"a": 40, "b": 2}),
        ("/pub/job/adder/1.0.0/api/v1/perform", "tok", {"a": 1}),
    ]


def test_call_exit_codes(gateway: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main.main(["call", "adder", '{"b": 2}', "--gateway", gateway]) == 1
    assert "HTTP 400 from" in capsys.readouterr().err
    assert main.main(["call", "adder", "{not json", "--gateway", gateway]) == 2
    assert main.main(["call", "adder", "1", "2", "3", "--gateway", gateway]) == 2
    assert main.main(["call", "adder", "{}", "--gateway", "http://127.0.0.1:9"]) == 1
    assert "cannot reach" in capsys.readouterr().err


def test_colour_only_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    class Tty:
        def isatty(self) -> bool:
            return True

    monkeypatch.delenv("NO_COLOR", raising=False)
    assert endpoints.Painter(Tty())("ok", "green") == "\x1b[32mok\x1b[0m"
    monkeypatch.setenv("NO_COLOR", "1")
    assert endpoints.Painter(Tty())("ok", "green") == "ok"


def test_a_refusal_is_said_in_the_api_servers_words() -> None:
    status = {"kind": "Status", "message": 'admission webhook "x" denied the request: no'}
    refused = ApiError(422, "Unprocessable Entity", json.dumps(status))
    assert deploy.refusal(refused) == 'admission webhook "x" denied the request: no (HTTP 422)'
    assert deploy.refusal(ApiError(502, "Bad Gateway", "<html>")) == "HTTP 502 Bad Gateway: <html>"
