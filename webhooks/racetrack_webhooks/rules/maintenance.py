"""The maintenance guard: while a Maintenance is active, Job changes are refused.

The refusal starts with the original's sentence, then says which Maintenance, why, since when
and who turned it on, so whoever is refused knows whom to ask.
"""

from __future__ import annotations

from racetrack_api.v1alpha1 import Maintenance
from racetrack_webhooks.rules.admins import admin_only
from racetrack_webhooks.rules.fielderrors import UNAVAILABLE, FieldError
from racetrack_webhooks.rules.identity import Actor
from racetrack_webhooks.rules.world import MaintenanceRecord, World

ORIGINAL_MESSAGE = "Racetrack is currently in maintenance mode. Please try again later."


def refusal(world: World) -> FieldError | None:
    """Why a Job change is refused now, or None outside maintenance."""
    active = world.active_maintenances()
    if not active:
        return None
    return FieldError("", " ".join([ORIGINAL_MESSAGE, *map(_describe, active)]), UNAVAILABLE)


def _describe(maintenance: MaintenanceRecord) -> str:
    reason = maintenance.message.strip().rstrip(".") or "no reason given"
    turned_on = maintenance.turned_on
    # To the second: the stamp's microseconds tell changes apart, people need no more.
    since = turned_on.at[:19] + "Z" if turned_on else maintenance.created
    by = (turned_on.user or turned_on.by) if turned_on else "someone before the webhooks ran"
    return (
        f"Maintenance {maintenance.name}: {reason}. Active since {since}, turned on by {by}; "
        "creating, changing, deleting and moving Jobs is refused until an admin turns it off."
    )


def validate_maintenance(
    new: Maintenance | None, old: Maintenance | None, world: World, actor: Actor
) -> list[FieldError]:
    """Only racetrack admins switch maintenance, among racetrack Users."""
    return admin_only(actor, "turn maintenance on or off")
