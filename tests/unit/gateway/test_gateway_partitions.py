"""Tables as the union of partitions: a shared key lives while any owner has it."""

from __future__ import annotations

from racetrack_gateway.partitions import Partitions
from racetrack_gateway.render import tables


def perms(*keys: str) -> tables.Entries:
    entries = tables.empty()
    entries[tables.PERMS] = {key: "1" for key in keys}
    return entries


def test_a_key_two_grants_share_stays_until_both_are_gone() -> None:
    parts = Partitions()
    first = parts.update(("grant", "ns", "a"), perms("u/alice|"))
    assert first.changes[tables.PERMS] == {"u/alice|": (None, "1")}
    assert not parts.update(("grant", "ns", "b"), perms("u/alice|"))
    assert not parts.update(("grant", "ns", "a"), None)
    assert parts.tables[tables.PERMS] == {"u/alice|": "1"}
    gone = parts.update(("grant", "ns", "b"), None)
    assert gone.changes[tables.PERMS] == {"u/alice|": ("1", None)}
    assert parts.tables[tables.PERMS] == {}
    assert parts.partitions() == set()


def test_an_update_reports_only_what_changed() -> None:
    parts = Partitions()
    parts.update(("grant", "ns", "a"), perms("k1", "k2"))
    delta = parts.update(("grant", "ns", "a"), perms("k2", "k3"))
    assert delta.changes[tables.PERMS] == {"k1": ("1", None), "k3": (None, "1")}
    assert delta.size() == 2


def test_owners_that_disagree_resolve_the_same_whatever_the_order() -> None:
    def value(v: str) -> tables.Entries:
        entries = tables.empty()
        entries[tables.TOKENS] = {"h": v}
        return entries

    one, two = Partitions(), Partitions()
    one.update(("caller", "a"), value("u/a"))
    one.update(("caller", "b"), value("u/b"))
    two.update(("caller", "b"), value("u/b"))
    two.update(("caller", "a"), value("u/a"))
    assert one.tables == two.tables == {**tables.empty(), tables.TOKENS: {"h": "u/a"}}


def test_deltas_combine_into_the_net_change() -> None:
    parts = Partitions()
    total = parts.update(("grant", "ns", "a"), perms("k"))
    total.extend(parts.update(("grant", "ns", "a"), None))
    assert not total
