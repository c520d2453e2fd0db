"""The ASGI app: ``POST /mutate`` (the stamp), ``POST /validate`` (the rules), and probes.

Each admission request is answered from the watch-fed world. Two answers need the API server:
a pending audit event for an admitted deletion or key rotation is written before the request
is allowed (refused, with the reason, if it cannot be written: a deletion nobody could audit
does not happen), and a User created by an identity that is not a racetrack User asks RBAC,
through a SubjectAccessReview, whether it may update Users (see ``rules.user``).

Until every watch has listed once the answer is a refusal that says the webhooks are starting:
with a half-filled world an active Maintenance could be missed.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import logging
import time
from collections.abc import Callable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from racetrack_api.meta import GROUP
from racetrack_api.v1alpha1 import AuditEvent, User
from racetrack_kube import paths
from racetrack_kube.client import ApiError, Kube
from racetrack_webhooks import metrics
from racetrack_webhooks.admission import decide, review
from racetrack_webhooks.feed import Feed
from racetrack_webhooks.rules.fielderrors import UNAVAILABLE, FieldError
from racetrack_webhooks.rules.identity import Actor, actor_of
from racetrack_webhooks.rules.world import World
from racetrack_webhooks.settings import Settings

log = logging.getLogger(__name__)
Decide = Callable[[review.Request, World, Actor, str, str], decide.Decision]
JSON = "application/json"


def now() -> str:
    """Admission time as stamps and audit events record it (microseconds, UTC)."""
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Admission:
    def __init__(self, kube: Kube, feed: Feed, settings: Settings) -> None:
        self.kube = kube
        self.feed = feed
        self.settings = settings

    async def mutate(self, request: Request) -> Response:
        return await self._admit(request, "mutate", decide.stamp)

    async def validate(self, request: Request) -> Response:
        return await self._admit(request, "validate", decide.validate)

    async def _admit(self, request: Request, webhook: str, rules: Decide) -> Response:
        started = time.perf_counter()
        try:
            admission = review.parse(await request.body())
        except review.BadReview as error:
            log.warning("Refused a malformed admission request: %s", error)
            return Response(f"{error}\n", status_code=400, media_type="text/plain")
        answer = await self._answer(admission, webhook, rules)
        body = json.dumps(answer, separators=(",", ":")).encode()
        metrics.ADMISSION_SECONDS.labels(webhook, admission.kind, admission.operation).observe(
            time.perf_counter() - started
        )
        return Response(body, media_type=JSON)

    async def _answer(
        self, admission: review.Request, webhook: str, rules: Decide
    ) -> dict[str, Any]:
        if not self.feed.synced():
            return self._refuse(
                admission,
                [
                    FieldError(
                        "",
                        "the racetrack admission webhooks are starting and do not know the "
                        "cluster's Users, Permissions and Maintenances yet; try again in a few "
                        "seconds",
                        UNAVAILABLE,
                    )
                ],
            )
        world = self.feed.world
        actor = actor_of(admission.user_info, world)
        if webhook == "validate" and decide.needs_rbac_answer(admission, world, actor):
            actor = dataclasses.replace(
                actor, may_update_users=await self._may_update_users(admission)
            )
        decision = rules(admission, world, actor, now(), self.settings.self_username)
        if not decision.allowed:
            return self._refuse(admission, decision.errors, decision.warnings)
        if decision.audit_event is not None:
            problem = await self._record(decision.audit_event)
            if problem is not None:
                return self._refuse(admission, [problem], decision.warnings)
        return review.allow(admission.uid, decision.warnings, decision.patch)

    def _refuse(
        self, admission: review.Request, errors: list[FieldError], warnings: list[str] | None = None
    ) -> dict[str, Any]:
        metrics.REFUSALS.labels(admission.kind, admission.operation, str(errors[0].code)).inc()
        log.info(
            "Refused %s of %s %s/%s by %s: %s",
            admission.operation,
            admission.kind,
            admission.namespace,
            admission.name,
            admission.user_info.get("username"),
            "; ".join(map(str, errors))[:300],
        )
        return review.refuse(admission.uid, errors, warnings)

    async def _record(self, event: dict[str, Any]) -> FieldError | None:
        namespace = str(event["metadata"]["namespace"])
        try:
            await self.kube.create(paths.racetrack(AuditEvent, namespace), event)
        except (ApiError, OSError) as error:
            log.error("Writing the audit event %s failed: %s", event["metadata"]["name"], error)
            return FieldError(
                "",
                "the audit event of this change could not be written, so the change is refused; "
                f"try again (the webhooks' log says why: {str(error)[:200]})",
                UNAVAILABLE,
            )
        metrics.AUDIT_EVENTS_WRITTEN.labels(str(event["spec"]["action"])).inc()
        return None

    async def _may_update_users(self, admission: review.Request) -> bool:
        info = admission.user_info
        body = {
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SubjectAccessReview",
            "spec": {
                "user": info.get("username"),
                "uid": info.get("uid"),
                "groups": info.get("groups") or [],
                "extra": info.get("extra") or {},
                "resourceAttributes": {
                    "group": GROUP,
                    "resource": User.crd.plural,
                    "verb": "update",
                },
            },
        }
        try:
            answer = await self.kube.request(
                "POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews", body
            )
        except (ApiError, OSError) as error:
            log.warning(
                "Asking RBAC whether %s may update Users failed: %s", info.get("username"), error
            )
            return False  # the stricter answer: register inactive, yourself only
        return bool((answer.get("status") or {}).get("allowed"))


def build_app(admission: Admission) -> Starlette:
    feed = admission.feed

    async def ready(_: Request) -> Response:
        if feed.synced():
            return Response("ok\n", media_type="text/plain")
        return Response("watches not listed yet\n", status_code=503, media_type="text/plain")

    async def live(_: Request) -> Response:
        return Response("ok\n", media_type="text/plain")

    return Starlette(
        routes=[
            Route("/mutate", admission.mutate, methods=["POST"]),
            Route("/validate", admission.validate, methods=["POST"]),
            Route("/readyz", ready, methods=["GET"]),
            Route("/livez", live, methods=["GET"]),
        ]
    )
