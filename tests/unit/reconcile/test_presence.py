"""Which subjects and families exist, as the presence watches report them."""

from __future__ import annotations

from racetrack_api.permissions import SubjectRef
from racetrack_api.v1alpha1.permission import SubjectKind
from racetrack_operator.reconcile.presence import Presence

USER, ESC, FAMILY = SubjectKind.USER, SubjectKind.EXTERNAL_SERVICE_CONSUMER, SubjectKind.JOB_FAMILY


def test_subjects_come_and_go_and_only_changes_are_news() -> None:
    seen = Presence()
    assert seen.observe(USER, None, "alice", True)
    assert not seen.observe(USER, None, "alice", True)
    assert seen.has_subject(SubjectRef(USER, "alice"))
    assert seen.observe(ESC, "ml", "billing", True)
    assert seen.has_subject(SubjectRef(ESC, "billing", "ml"))
    assert not seen.has_subject(SubjectRef(ESC, "billing", "other"))
    assert seen.observe(USER, None, "alice", False)
    assert not seen.has_subject(SubjectRef(USER, "alice"))


def test_families_are_found_in_a_namespace_or_in_any() -> None:
    seen = Presence()
    seen.observe(FAMILY, "ml", "adder", True)
    seen.observe(FAMILY, "web", "adder", True)
    assert seen.has_family("ml", "adder") and seen.has_family(None, "adder")
    assert seen.has_subject(SubjectRef(FAMILY, "adder", "web"))
    seen.observe(FAMILY, "ml", "adder", False)
    assert not seen.has_family("ml", "adder") and seen.has_family(None, "adder")
    seen.observe(FAMILY, "web", "adder", False)
    assert not seen.has_family(None, "adder")


def test_outside_the_watched_namespaces_presence_is_unknown() -> None:
    seen = Presence()
    seen.watch_namespaces(("ml", "racetrack-system"))
    assert seen.has_subject(SubjectRef(ESC, "billing", "other")) is None
    assert seen.has_family("other", "adder") is None
    assert seen.has_subject(SubjectRef(USER, "alice")) is False  # Users are cluster-wide
    assert seen.has_family("ml", "adder") is False
