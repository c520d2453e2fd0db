"""The portfolio's rows, order, filters and table, from Jobs as the API server lists them."""

from __future__ import annotations

import asyncio
import io
from typing import Any

import pytest
import urllib3

from racetrack_cli import output
from racetrack_cli.kubeargs import USAGE, CommandError
from racetrack_cli.main import build_parser
from racetrack_cli.portfolio import (
    delete_rows,
    parse_filters,
    portfolio_rows,
    render_table,
    select,
)


def job(
    name: str,
    family: str,
    version: str,
    score: float | None = None,
    reasons: list[str] | None = None,
    called: str | None = None,
    ready: bool = True,
    deployed_by: str | None = "alice",
) -> dict[str, Any]:
    status: dict[str, Any] = {
        "conditions": [
            {
                "type": "Ready",
                "status": "True" if ready else "False",
                "lastTransitionTime": "2026-11-01T10:00:00Z",
            }
        ]
    }
    if not ready:
        status["conditions"].append({"type": "Stalled", "status": "True", "reason": "X"})
    if score is not None:
        status["purge"] = {"score": score, "reasons": reasons or []}
    if called:
        status["lastCallTime"] = called
    annotations = {"racetrack.io/deployed-by": deployed_by} if deployed_by else {}
    return {
        "metadata": {
            "name": name,
            "namespace": "ml",
            "creationTimestamp": "2026-10-01T10:00:00Z",
            "annotations": annotations,
        },
        "spec": {"name": family, "version": version, "jobtype": "python3:1.0.0"},
        "status": status,
    }


JOBS = [
    job(
        "adder-v1",
        "adder",
        "1.0.0",
        11.0,
        ["It seems unused: it was never called.", "It has 1 newer version."],
    ),
    job("adder-v2", "adder", "2.0.0", 0.0, [], called="2026-12-01T09:00:00Z"),
    job(
        "scorer-v1",
        "scorer",
        "1.0.0",
        30.0,
        ["The job is failing: fix or remove it.", "It seems unused: it was never called."],
        ready=False,
        deployed_by=None,
    ),
    job("fresh-v1", "fresh", "0.1.0"),  # not scored yet
]


def test_rows_are_sorted_by_purge_score_and_say_never_called() -> None:
    rows = portfolio_rows(JOBS)
    assert [row["job"] for row in rows] == ["scorer-v1", "adder-v1", "adder-v2", "fresh-v1"]
    assert rows[0]["status"] == "error" and rows[2]["status"] == "running"
    assert rows[1]["last-called"] is None
    assert rows[2]["last-called"] == "2026-12-01T09:00:00Z"
    assert rows[1]["last-updated"] == "2026-11-01T10:00:00Z"
    table = render_table(rows, with_namespace=False, colour=False)
    lines = table.splitlines()
    assert lines[0].split() == [
        "FAMILY", "VERSION", "STATUS", "JOBTYPE", "DEPLOYED", "BY", "LAST", "UPDATED",
        "LAST", "CALLED", "PURGE", "REASONS",
    ]  # fmt: skip
    assert "never called" in lines[1] and "\033" not in table
    assert lines[1].split()[:3] == ["scorer", "1.0.0", "error"]
    assert "<none>" in lines[1]  # nobody recorded as deployer


def test_filters_in_the_dashboards_language_combine() -> None:
    rows = portfolio_rows(JOBS)

    def kept(*texts: str) -> list[str]:
        return [str(row["job"]) for row in select(rows, parse_filters(texts))]

    assert kept("purge>=20") == ["scorer-v1"]
    assert kept("family={ad") == ["adder-v1", "adder-v2"]
    assert kept("last-called=[empty]", "purge>0") == ["scorer-v1", "adder-v1"]
    assert kept("reasons=rgx:newer|failing") == ["scorer-v1", "adder-v1"]
    assert kept("version==2.0.0 || =0.1.0") == ["adder-v2", "fresh-v1"]
    assert kept("deployed-by=[empty]") == ["scorer-v1"]
    assert kept("status=!running") == ["scorer-v1"]


def test_an_invalid_filter_points_at_the_character_and_is_a_usage_error() -> None:
    with pytest.raises(CommandError) as caught:
        parse_filters(["purge>=20 && "])
    assert caught.value.exit_code == USAGE
    message = str(caught.value).splitlines()
    assert message[1].strip() == "purge>=20 &&"
    assert message[2].index("^") == message[1].index("purge") + len("purge>=20 && ")
    with pytest.raises(CommandError, match="unknown column 'score'"):
        parse_filters(["score>1"])


def test_colour_only_when_asked_and_scores_painted_by_severity() -> None:
    table = render_table(portfolio_rows(JOBS), with_namespace=True, colour=True)
    assert output.RED in table and output.YELLOW in table
    assert table.splitlines()[0].split()[2] == "NAMESPACE"


def test_confirmation_without_a_terminal_needs_yes() -> None:
    with pytest.raises(CommandError, match="add --yes") as caught:
        output.confirm("Delete 2 job(s)?", assume_yes=False, stdin=io.StringIO("y\n"))
    assert caught.value.exit_code == USAGE
    assert output.confirm("Delete?", assume_yes=True, stdin=io.StringIO(""))


def test_a_webhook_refusal_is_said_in_its_own_words() -> None:
    body = '{"kind":"Status","message":"admission webhook denied: maintenance"}'
    assert output.api_message(body) == "admission webhook denied: maintenance"
    assert output.api_message("plain text") == "plain text"


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_colour_only_on_a_terminal_and_never_with_no_color(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert output.colour_wanted(Terminal())
    assert not output.colour_wanted(io.StringIO())
    monkeypatch.setenv("NO_COLOR", "1")
    assert not output.colour_wanted(Terminal())


def test_every_admin_command_is_registered_with_kubectls_flags() -> None:
    parser = build_parser()
    for argv in (
        ["portfolio", "-A", "-f", "purge>=20", "-o", "json"],
        ["graph", "--focus", "alice", "-o", "dot", "-n", "ml"],
        ["audit", "--user", "alice", "--family", "adder"],
        ["redeploy", "adder-v1-0-0", "-n", "ml", "--wait"],
        ["maintenance", "on", "-m", "Upgrade"],
        ["maintenance", "off"],
        ["maintenance", "off", "--name", "db-move"],
    ):
        args = parser.parse_args([*argv, "--kubeconfig", "/k", "--context", "c"])
        assert (args.kubeconfig, args.context) == ("/k", "c")
        assert callable(args.handler)


def test_on_a_terminal_only_yes_confirms(capsys: pytest.CaptureFixture[str]) -> None:
    assert output.confirm("Delete 2 job(s)?", assume_yes=False, stdin=Terminal("y\n"))
    assert output.confirm("Delete 2 job(s)?", assume_yes=False, stdin=Terminal("YES\n"))
    assert not output.confirm("Delete 2 job(s)?", assume_yes=False, stdin=Terminal("\n"))
    assert not output.confirm("Delete 2 job(s)?", assume_yes=False, stdin=Terminal("n\n"))
    assert capsys.readouterr().err.count("Delete 2 job(s)? [y/N] ") == 4


class GoneAfter:
    """An API server that answers ``answers`` requests, then none (urllib3's error)."""

    def __init__(self, answers: int) -> None:
        self.answers = answers
        self.requests: list[tuple[str, str, Any]] = []

    async def request(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        if len(self.requests) >= self.answers:
            raise urllib3.exceptions.MaxRetryError(None, path, OSError("Connection refused"))  # type: ignore[arg-type]
        self.requests.append((method, path, body))
        return {}


def test_an_api_server_lost_midway_says_how_many_were_deleted() -> None:
    rows = [{"namespace": "ml", "job": f"adder-v{n}-0-0"} for n in (1, 2, 3)]
    # Three dry runs and the first deletion are answered; the second deletion is not.
    kube = GoneAfter(answers=4)
    with pytest.raises(CommandError) as error:
        asyncio.run(delete_rows(kube, rows, assume_yes=True))  # type: ignore[arg-type]
    assert str(error.value) == (
        "deleted 1 of 3 job(s); the API server did not answer the deletion of ml/adder-v2-0-0 "
        "(Connection refused): list them again to see what is left"
    )
    assert [body.get("dryRun") for _, _, body in kube.requests] == [["All"]] * 3 + [None]
