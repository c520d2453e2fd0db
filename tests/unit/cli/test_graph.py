"""The permission graph from Permissions, as text, DOT and Mermaid, and focused on a node."""

from __future__ import annotations

import pytest

from racetrack_api.permissions import Grant, SubjectRef
from racetrack_api.v1alpha1.permission import Scope, SubjectKind
from racetrack_cli.graph import JobRef, build, focus, to_dot, to_mermaid, to_text

ALICE = SubjectRef(SubjectKind.USER, "alice")
BILLING = SubjectRef(SubjectKind.EXTERNAL_SERVICE_CONSUMER, "billing", "ml")
BADDER = SubjectRef(SubjectKind.JOB_FAMILY, "badder", "ml")
JOBS = [
    JobRef("ml", "adder-v1-0-0", "adder", "1.0.0"),
    JobRef("ml", "adder-v2-0-0", "adder", "2.0.0"),
    JobRef("ml", "badder-v1-0-0", "badder", "1.0.0"),
]
GRANTS = [
    Grant(ALICE, Scope.CALL_JOB, None),
    Grant(ALICE, Scope.READ_JOB, None),
    Grant(BILLING, Scope.CALL_JOB, "ml", family="adder", endpoint="/api/v1/perform"),
    Grant(BADDER, Scope.CALL_JOB, "ml", family="adder", version="1.x"),
]


def test_edges_go_from_subjects_to_what_their_permissions_cover() -> None:
    text = to_text(build([ALICE, BILLING], JOBS, GRANTS))
    assert "User alice\n  call_job, read_job -> every job\n" in text
    assert "ESC ml/billing\n  call_job /api/v1/perform -> Job family ml/adder\n" in text
    # A version wildcard points at the versions it covers today.
    assert "Job family ml/badder\n  call_job -> Job ml/adder-v1-0-0\n" in text
    assert "Job family ml/adder\n  version 1.0.0 -> Job ml/adder-v1-0-0\n" in text


def test_focus_keeps_one_node_and_its_neighbours() -> None:
    graph = focus(build([ALICE, BILLING], JOBS, GRANTS), "billing")
    assert {node.label for node in graph.nodes} == {"ESC ml/billing", "Job family ml/adder"}
    assert len(graph.edges) == 1
    with pytest.raises(LookupError, match="no node named 'nobody'"):
        focus(graph, "nobody")


def test_dot_and_mermaid_name_every_node_and_edge() -> None:
    graph = build([ALICE, BILLING], JOBS, GRANTS)
    dot = to_dot(graph)
    assert dot.startswith("digraph permissions {") and dot.rstrip().endswith("}")
    assert dot.count(" -> ") == len(graph.edges)
    assert '[label="User alice", shape=ellipse]' in dot
    mermaid = to_mermaid(graph)
    assert mermaid.startswith("graph LR\n")
    assert mermaid.count("-->") == len(graph.edges)
    assert '["ESC ml/billing"]' in mermaid
