"""Termination messages: within the kubelet's 4096 bytes, oldest log lines dropped first."""

from __future__ import annotations

import json
from pathlib import Path

from racetrack_builder import report


def test_a_long_log_is_cut_from_the_top_to_fit() -> None:
    log = [f"line {i:03d} " + "x" * 250 for i in range(20)]
    text = report.encode({"reason": "DependenciesFailed", "message": "m", "log": log})
    assert len(text.encode()) <= report.MESSAGE_LIMIT
    kept = json.loads(text)["log"]
    assert kept == log[-len(kept) :] and 0 < len(kept) < 20


def test_a_huge_message_is_cut_too() -> None:
    text = report.encode({"reason": "FetchFailed", "message": "y" * 10_000, "log": ["a"]})
    assert len(text.encode()) <= report.MESSAGE_LIMIT
    assert json.loads(text)["reason"] == "FetchFailed"


def test_tail_keeps_the_last_meaningful_lines() -> None:
    output = "\n".join(["", "first", "   ", *[f"l{i}" for i in range(30)], ""])
    assert report.tail(output) == [f"l{i}" for i in range(10, 30)]
    assert report.tail("z" * 500) == ["z" * report.LINE_LIMIT]


def test_outside_a_pod_the_message_is_printed(tmp_path: Path, capsys: object) -> None:
    target = tmp_path / "termination-log"
    report.write({"digest": "sha256:x"}, target)
    assert json.loads(target.read_text()) == {"digest": "sha256:x"}
