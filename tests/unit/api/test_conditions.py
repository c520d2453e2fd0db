"""The condition setter: observedGeneration always, lastTransitionTime only on a flip."""

from __future__ import annotations

from racetrack_api import conditions as c


def test_set_condition_keeps_time_unless_status_flips() -> None:
    first = c.set_condition([], c.READY, "False", "A", "one", 1, "t0")
    same = c.set_condition(first, c.READY, "False", "B", "two", 2, "t1")
    assert same[0].last_transition_time == "t0"
    assert (same[0].reason, same[0].message, same[0].observed_generation) == ("B", "two", 2)
    flipped = c.set_condition(same, c.READY, "True", "C", "", 2, "t2")
    assert flipped[0].last_transition_time == "t2"
    other = c.set_condition(flipped, c.STALLED, "False", "D", "", 2, "t3")
    assert [x.type for x in other] == [c.READY, c.STALLED]


def test_remove_conditions_drops_only_the_named_types() -> None:
    both = c.set_condition([], c.READY, "True", "A", "", 1, "t0")
    both = c.set_condition(both, c.STALLED, "True", "B", "", 1, "t0")
    assert [x.type for x in c.remove_conditions(both, c.STALLED, c.RECONCILING)] == [c.READY]
