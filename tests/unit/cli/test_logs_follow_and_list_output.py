"""``racetrack logs --follow`` (what it asks the API server, how it waits for a container
that has not started, how interleaved lines are told apart) and ``racetrack list -o``."""

from __future__ import annotations

import asyncio
import io
import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from racetrack_cli import jobs, kubeargs, logstream, main
from racetrack_kube.client import ApiError

WAITING = '{"message":"container \\"dependencies\\" in pod \\"b\\" is waiting to start"}'


class Logs:
    """Followed logs by (pod, container): their lines, after some answers of 'not started'."""

    def __init__(self, lines: dict[tuple[str, str], list[str]], waits: int = 0) -> None:
        self.lines = lines
        self.waits = waits
        self.asked: list[tuple[str, list[tuple[str, str]], float | None]] = []
        self.lock = threading.Lock()

    def stream_lines(
        self,
        path: str,
        query: list[tuple[str, str]],
        read_timeout: float | None,
        accept: str = "*/*",
        *,
        keep_blank: bool = False,
    ) -> Iterator[bytes]:
        assert keep_blank  # a log's blank lines are its own
        with self.lock:
            self.asked.append((path, query, read_timeout))
            if self.waits:
                self.waits -= 1
                raise ApiError(400, "Bad Request", WAITING)
        pod = path.split("/")[-2]
        yield from (line.encode() for line in self.lines[(pod, dict(query)["container"])])


def pod(name: str, *steps: str) -> dict[str, Any]:
    containers = [{"name": step} for step in steps] or [{"name": "job"}]
    return {"metadata": {"name": name}, "spec": {"initContainers": containers[:-1],
                                                 "containers": containers[-1:]}}  # fmt: skip


def test_one_job_pod_is_followed_without_prefix_and_waits_for_its_log_forever() -> None:
    source = Logs({("adder-1", "job"): ["started", "", "POST /api/v1/perform 200"]})
    out = io.StringIO()
    asyncio.run(logstream.follow(source, "ns", [pod("adder-1")], build=False, tail=10, out=out))
    assert out.getvalue() == "started\n\nPOST /api/v1/perform 200\n"
    [(path, query, timeout)] = source.asked
    assert path == "/api/v1/namespaces/ns/pods/adder-1/log"
    assert query == [("container", "job"), ("follow", "true"), ("tailLines", "10")]
    assert timeout is None  # a job may log nothing for hours


def test_several_pods_are_followed_at_once_each_line_naming_its_pod() -> None:
    source = Logs({("a", "job"): ["from a"], ("b", "job"): ["from b", "again b"]})
    out = io.StringIO()
    asyncio.run(logstream.follow(source, "ns", [pod("a"), pod("b")], False, -1, out))
    assert sorted(out.getvalue().splitlines()) == ["[a job] from a", "[b job] again b",
                                                   "[b job] from b"]  # fmt: skip
    assert all(("tailLines", "-1") not in q and len(q) == 2 for _, q, _ in source.asked)


def test_a_builds_steps_are_followed_in_order_waiting_for_each_to_start() -> None:
    steps = {("b", "fetch"): ["cloned"], ("b", "build"): ["pushed"]}
    source = Logs(steps, waits=2)
    slept: list[float] = []
    printed: list[str] = []
    for step in logstream.containers(pod("b", "fetch", "build"), build=True):
        logstream.follow_container(source, "ns", "b", step, -1, printed.append, slept.append)
    assert printed == ["cloned", "pushed"]
    assert slept == [logstream.WAIT_SECONDS] * 2
    assert [dict(q)["container"] for _, q, _ in source.asked] == ["fetch", "fetch", "fetch",
                                                                  "build"]  # fmt: skip


def test_an_error_other_than_not_started_ends_the_follow_with_it() -> None:
    class Forbidden(Logs):
        def stream_lines(self, *args: Any, **kwargs: Any) -> Iterator[bytes]:
            raise ApiError(403, "Forbidden", "pods/log is forbidden")

    with pytest.raises(ApiError, match="403"):
        asyncio.run(logstream.follow(Forbidden({}), "ns", [pod("a")], False, -1, io.StringIO()))


def job(version: str, ready: bool) -> dict[str, Any]:
    condition = {"type": "Ready", "status": "True" if ready else "False",
                 "reason": "JobReady" if ready else "RolloutInProgress"}  # fmt: skip
    return {
        "metadata": {"name": f"adder-v{version.replace('.', '-')}", "namespace": "ml",
                     "generation": 1, "creationTimestamp": "2026-01-01T00:00:00Z"},
        "spec": {"name": "adder", "version": version, "ownerEmail": "o@example.org"},
        "status": {"observedGeneration": 1, "conditions": [condition],
                   "image": "r/racetrack/jobs/adder@sha256:1", "url": "http://adder:7000"},
    }  # fmt: skip


def test_list_records_are_by_name_and_version_with_what_the_table_shows() -> None:
    records = jobs.records([job("10.0.0", True), job("9.0.0", False)])
    assert [r["version"] for r in records] == ["9.0.0", "10.0.0"]
    assert records[1] == {
        "namespace": "ml", "name": "adder", "version": "10.0.0", "status": "ready",
        "reason": "JobReady", "owner_email": "o@example.org",
        "created": "2026-01-01T00:00:00Z", "job": "adder-v10-0-0",
        "image": "r/racetrack/jobs/adder@sha256:1", "url": "http://adder:7000",
    }  # fmt: skip
    assert records[0]["status"] == "deploying"


@pytest.mark.parametrize("fmt", ["json", "yaml"])
def test_list_prints_json_or_yaml_and_an_empty_list_for_no_jobs(
    fmt: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    listed: list[list[dict[str, Any]]] = [[job("1.0.0", True)], []]

    class Kube:
        async def list_objects(self, collection: str) -> list[dict[str, Any]]:
            assert collection == "/apis/racetrack.io/v1alpha1/namespaces/ml/jobs"
            return listed.pop(0)

        def close(self) -> None:
            pass

    monkeypatch.setattr(kubeargs, "connect", lambda args: Kube())
    load = json.loads if fmt == "json" else yaml.safe_load
    assert main.main(["list", "-n", "ml", "-o", fmt]) == 0
    [record] = load(capsys.readouterr().out)
    assert (record["name"], record["version"], record["status"]) == ("adder", "1.0.0", "ready")
    assert main.main(["list", "-n", "ml", "-o", fmt]) == 0
    captured = capsys.readouterr()
    assert load(captured.out) == [] and captured.err == ""
