"""The purge score: penalty points that make an unused or broken job a removal candidate.

The original's rules, point for point, so a portfolio reads as it did there:

- lost, nothing in the cluster serves the job: +50, "redeploy or remove";
- otherwise failing: +20, "fix or remove";
- only once the job has been unchanged for a day: never called, +10; or not called for
  ``d`` days (``d`` > 1), +10 x min(d / 30, 1);
- ``n`` newer versions in its family (pre-releases count): +5 x min(n / 5, 1).

So the highest score is 65 (lost, unused, superseded). What "lost" and "failing" mean for a
Job is decided where the Job's status is known (see ``PurgeFacts``); this module only scores.
A job the gateway has never seen called has no last call time: it is "never called", which
is what the portfolio then says, never a guess.
"""

from __future__ import annotations

import dataclasses
import datetime

LOST_POINTS = 50.0
FAILING_POINTS = 20.0
UNUSED_POINTS = 10.0
NEWER_VERSION_POINTS = 5.0
#: Days without a call after which the unused penalty is complete.
UNUSED_DAYS = 30.0
#: Newer versions after which the superseded penalty is complete.
NEWER_VERSIONS = 5
GRACE = datetime.timedelta(days=1)


@dataclasses.dataclass(frozen=True)
class PurgeFacts:
    lost: bool
    """The job should serve but nothing in the cluster does (no Deployment, no replica)."""
    failing: bool
    """The job is stalled or its pods fail."""
    updated_at: datetime.datetime
    """When the job last changed (deployed, edited, redeployed)."""
    last_call: datetime.datetime | None
    """The last call through the gateway, None when none was ever seen."""
    newer_versions: int
    """Versions of the same family with a higher semantic version."""


@dataclasses.dataclass(frozen=True)
class Purge:
    score: float
    reasons: tuple[str, ...]


def purge_score(facts: PurgeFacts, now: datetime.datetime) -> Purge:
    score = 0.0
    reasons: list[str] = []
    if facts.lost:
        score += LOST_POINTS
        reasons.append("Nothing in the cluster serves this job: redeploy or remove it.")
    elif facts.failing:
        score += FAILING_POINTS
        reasons.append("The job is failing: fix or remove it.")
    if now - facts.updated_at >= GRACE:
        if facts.last_call is None:
            score += UNUSED_POINTS
            reasons.append("It seems unused: it was never called.")
        else:
            days = (now - facts.last_call).total_seconds() / 86400
            if days > 1:
                score += UNUSED_POINTS * min(days / UNUSED_DAYS, 1.0)
                reasons.append(f"It was not called for {days:.1f} days.")
    if facts.newer_versions > 0:
        score += NEWER_VERSION_POINTS * min(facts.newer_versions / NEWER_VERSIONS, 1.0)
        plural = "s" if facts.newer_versions > 1 else ""
        reasons.append(f"It has {facts.newer_versions} newer version{plural}.")
    return Purge(round(score, 1), tuple(reasons))
