"""Which Lease an operator takes: one per watch scope, so only replicas watching the same
namespaces exclude each other."""

from __future__ import annotations

import pytest

from racetrack_operator.leadership import LEASE, lease_name
from racetrack_operator.settings import Settings, SettingsError


def test_a_cluster_wide_operator_takes_the_one_named_lease() -> None:
    assert lease_name(Settings().watched_namespaces) == LEASE == "racetrack-operator"


def test_the_same_namespaces_in_any_order_share_a_lease_and_others_do_not() -> None:
    same = lease_name(["a", "b"]), lease_name(["b", "a"])
    other = lease_name(["a", "c"])
    assert same[0] == same[1] != other
    assert same[0].startswith("racetrack-operator-") and len(same[0]) <= 63


def test_a_lease_shorter_than_three_seconds_is_refused_by_name() -> None:
    with pytest.raises(SettingsError, match="RACETRACK_LEASE_SECONDS"):
        Settings.from_env({"RACETRACK_LEASE_SECONDS": "1"})
    assert Settings.from_env({"RACETRACK_LEASE_SECONDS": "30"}).lease_seconds == 30.0
