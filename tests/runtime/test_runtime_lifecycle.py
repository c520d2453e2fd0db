"""Start-up, readiness, failures at start, concurrency limits and shutdown, on real processes."""

from __future__ import annotations

import concurrent.futures
import contextlib
import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

if TYPE_CHECKING:  # pytest imports conftest itself; this import is for type checkers only
    from tests.runtime.conftest import RunningJob, RunToExit, StartJob


def metric(job: RunningJob, name: str) -> float:
    match = re.search(rf"^{name} (\S+)$", job.client.get("/metrics").text, re.MULTILINE)
    assert match, name
    return float(match.group(1))


def wait_metric(job: RunningJob, name: str, expected: float) -> None:
    deadline_polls = 600
    for _ in range(deadline_polls):
        if metric(job, name) == expected:
            return
        time.sleep(0.05)
    raise AssertionError(f"{name} never reached {expected}")


def test_not_ready_until_warm_up_finished(start_job: StartJob, tmp_path: Path) -> None:
    warm_gate = tmp_path / "warm"
    job = start_job(
        "gated.py", {"WARMUP_GATE_FILE": str(warm_gate), "GATE_FILE": str(tmp_path / "open")}
    )
    assert job.client.get("/live").status_code == 200
    ready = job.client.get("/ready")
    assert (ready.status_code, ready.json()) == (503, {"ready": False, "phase": "starting"})
    health = job.client.get("/health")
    assert health.status_code == 503
    assert (health.json()["status"], health.json()["phase"]) == ("fail", "starting")
    early = job.client.post("/api/v1/perform", json={"tag": "x"})
    assert early.status_code == 503
    assert early.json()["type"] == "NotReady"
    assert job.client.get("/openapi.json").json()["paths"]["/api/v1/perform"]  # docs already
    warm_gate.touch()
    job.wait_for("/ready", 200)
    (tmp_path / "open").touch()
    assert job.client.post("/api/v1/perform", json={"tag": "x"}).json() == "x"


def test_failing_constructor_keeps_it_not_ready_with_the_error_visible(
    start_job: StartJob,
) -> None:
    job = start_job("broken_init.py")
    health = job.wait_for("/health", 500).json()
    assert health["status"] == "fail"
    assert health["phase"] == "failed"
    assert "cannot load model: weights.bin is missing" in health["error"]
    assert job.client.get("/ready").status_code == 503
    live = job.client.get("/live")
    assert live.status_code == 500
    assert "weights.bin is missing" in live.json()["error"]
    call = job.client.post("/api/v1/perform", json={})
    assert call.status_code == 503
    assert "weights.bin is missing" in call.json()["error"]
    job.wait_for_log("Job class BrokenInit failed to initialize")
    assert "RuntimeError: cannot load model: weights.bin is missing" in job.log()
    assert job.process.poll() is None  # still up, so the error can be read


def test_unimportable_class_exits_naming_the_file_and_the_error(run_to_exit: RunToExit) -> None:
    result = run_to_exit("bad_import.py", "--port", "1")
    assert result.returncode == 1
    assert "bad_import.py: import failed at line 3" in result.stderr
    assert "ModuleNotFoundError" in result.stderr
    assert "not_a_real_module_for_racetrack_tests" in result.stderr


def test_ambiguous_file_exits_and_a_class_name_chooses(
    run_to_exit: RunToExit, start_job: StartJob
) -> None:
    result = run_to_exit("two_classes.py", "--port", "1")
    assert result.returncode == 1
    assert "several classes with a perform method (First, Second)" in result.stderr
    job = start_job("two_classes.py:Second")
    job.wait_for("/ready", 200)
    assert job.client.post("/api/v1/perform").json() == "second"


def test_bad_configuration_exits_naming_the_variable(run_to_exit: RunToExit) -> None:
    result = run_to_exit("two_classes.py:First", env={"JOB_PORT": "seven"})
    assert result.returncode == 2
    assert "JOB_PORT must be an integer, got 'seven'" in result.stderr
    missing = run_to_exit(env={"JOB_ENTRYPOINT_PATH": ""})
    assert missing.returncode == 2
    assert "JOB_ENTRYPOINT_PATH" in missing.stderr


def test_full_queue_answers_429_at_once_and_sync_perform_does_not_block_the_loop(
    start_job: StartJob, tmp_path: Path
) -> None:
    gate = tmp_path / "open"
    job = start_job(
        "gated.py",
        {"GATE_FILE": str(gate), "JOB_MAX_CONCURRENCY": "1", "JOB_MAX_CONCURRENCY_QUEUE": "1"},
    )
    job.wait_for("/ready", 200)
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        url = f"{job.url}/api/v1/perform"
        first = pool.submit(httpx.post, url, json={"tag": "first"}, timeout=60)
        wait_metric(job, "calls_running", 1)
        second = pool.submit(httpx.post, url, json={"tag": "second"}, timeout=60)
        wait_metric(job, "calls_waiting", 1)
        # perform is blocked in a thread, yet the loop answers probes and refuses at once
        assert job.client.get("/live").status_code == 200
        refused = job.client.post("/api/v1/perform", json={"tag": "third"})
        assert refused.status_code == 429
        assert refused.json()["type"] == "TooManyRequests"
        assert "1 call(s) at once with a queue of 1" in refused.json()["error"]
        gate.touch()
        assert first.result().json() == "first"
        assert second.result().json() == "second"
    assert job.client.post("/api/v1/perform", json={"tag": "again"}).json() == "again"


def test_sigterm_stops_the_runtime_even_while_user_code_hangs(
    start_job: StartJob, tmp_path: Path
) -> None:
    job = start_job("gated.py", {"GATE_FILE": str(tmp_path / "never")})
    job.wait_for("/ready", 200)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pending = pool.submit(
            httpx.post, f"{job.url}/api/v1/perform", json={"tag": "t"}, timeout=60
        )
        wait_metric(job, "calls_running", 1)
        job.process.send_signal(signal.SIGTERM)
        assert job.process.wait(timeout=20) == 0
        with contextlib.suppress(httpx.TransportError):  # closed by the stopping server
            pending.result()


def test_structured_logs_are_json_lines_with_the_tracing_id(start_job: StartJob) -> None:
    job = start_job("two_classes.py:First", {"LOG_STRUCTURED": "true"})
    job.wait_for("/ready", 200)
    job.client.post("/api/v1/perform", headers={"X-Request-Tracing-Id": "json-1"})
    job.wait_for_log("json-1")
    entries = [json.loads(line) for line in job.log().splitlines() if line.startswith("{")]
    access = [e for e in entries if e.get("tracing_id") == "json-1"]
    assert access and access[0]["msg"] == "POST /api/v1/perform 200"
    assert access[0]["lvl"] == "INFO"


def test_runtime_imports_nothing_heavy() -> None:
    code = (
        "import sys, racetrack_job_runtime.cli, racetrack_job_runtime.app\n"
        "heavy = {'racetrack_operator', 'kopf', 'kubernetes', 'pydantic', 'yaml', 'fastapi'}\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
