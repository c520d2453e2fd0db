"""The tables as the union of partitions, and what changes when one partition changes.

Every watched thing owns a partition of entries (``render.tables``). Two partitions may
hold the same key (two Permissions granting the same thing): the key stays while any owner
has it, and when owners disagree on a value the smallest partition id wins, so the result
never depends on the order events arrived in.
"""

from __future__ import annotations

import dataclasses

from racetrack_gateway.render.tables import TABLES, Entries

PartitionId = tuple[str, ...]


@dataclasses.dataclass
class Delta:
    """Per table, key -> (old value or None, new value or None); only real changes."""

    changes: dict[str, dict[str, tuple[str | None, str | None]]] = dataclasses.field(
        default_factory=lambda: {table: {} for table in TABLES}
    )

    def __bool__(self) -> bool:
        return any(self.changes.values())

    def size(self) -> int:
        return sum(len(c) for c in self.changes.values())

    def record(self, table: str, key: str, old: str | None, new: str | None) -> None:
        changes = self.changes[table]
        if key in changes:
            old = changes[key][0]
        if old == new:
            changes.pop(key, None)
        else:
            changes[key] = (old, new)

    def extend(self, other: Delta) -> None:
        for table, changes in other.changes.items():
            for key, (old, new) in changes.items():
                self.record(table, key, old, new)


class Partitions:
    def __init__(self) -> None:
        self._parts: dict[PartitionId, Entries] = {}
        # table -> key -> {owner: value}
        self._owners: dict[str, dict[str, dict[PartitionId, str]]] = {t: {} for t in TABLES}
        self.tables: dict[str, dict[str, str]] = {t: {} for t in TABLES}
        """The effective tables: what HAProxy should hold."""

    def update(self, part: PartitionId, entries: Entries | None) -> Delta:
        """Replace a partition's entries (None removes it); returns what changed."""
        delta = Delta()
        old = self._parts.pop(part, None) or {}
        if entries is not None and any(entries.values()):
            self._parts[part] = entries
        new = entries or {}
        for table in TABLES:
            before, after = old.get(table, {}), new.get(table, {})
            if before == after:
                continue
            owners = self._owners[table]
            for key in before.keys() - after.keys():
                self._set(table, key, part, None, owners, delta)
            for key, value in after.items():
                if before.get(key) != value:
                    self._set(table, key, part, value, owners, delta)
        return delta

    def partitions(self) -> set[PartitionId]:
        return set(self._parts)

    def _set(
        self,
        table: str,
        key: str,
        part: PartitionId,
        value: str | None,
        owners: dict[str, dict[PartitionId, str]],
        delta: Delta,
    ) -> None:
        holders = owners.setdefault(key, {})
        effective = self.tables[table]
        old = effective.get(key)
        if value is None:
            holders.pop(part, None)
        else:
            holders[part] = value
        new: str | None = None
        if holders:
            new = effective[key] = holders[min(holders)]
        else:
            del owners[key]
            effective.pop(key, None)
        if old != new:
            delta.record(table, key, old, new)
