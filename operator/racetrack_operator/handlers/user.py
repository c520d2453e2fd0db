"""User watch: default Permissions once, then the token (issued while active, revoked when not).

A watch handler like the others (see ``reconcile.jobwatch``): every event is compared with what the
User's token needs, and the echoes of our own writes cost no API call.
"""

from __future__ import annotations

from typing import Any

import kopf

from racetrack_api.meta import GROUP
from racetrack_api.permissions import SubjectRef
from racetrack_api.v1alpha1 import VERSION, User
from racetrack_api.v1alpha1.permission import SubjectKind
from racetrack_operator.handlers.startup import context
from racetrack_operator.reconcile.grants import user_seen
from racetrack_operator.reconcile.tokens import subject_deleted


@kopf.on.event(GROUP, VERSION, User.crd.plural, id="user")
async def user_event(event: kopf.RawEvent, name: str, memo: kopf.Memo, **_: Any) -> None:
    if event["type"] == "DELETED":
        subject_deleted(context(memo), SubjectRef(SubjectKind.USER, name))
    else:
        await user_seen(context(memo), dict(event["object"]))
