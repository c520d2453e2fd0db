"""AdmissionReview (``admission.k8s.io/v1``): parse a request, build a response.

Policy for odd input: a body that is not an AdmissionReview with a request uid cannot be
answered in kind, so the server replies 400 and the API server applies the webhook's
``failurePolicy`` (Fail: refused, with our message in the error). A well-formed request for a
kind or operation we do not handle is allowed: the configurations never send one, so it can
only come from a configuration edited by hand, and refusing every such write would take the
cluster down for a typo.
"""

from __future__ import annotations

import base64
import dataclasses
import json
from collections.abc import Mapping
from typing import Any

from racetrack_webhooks.rules.fielderrors import FieldError

JsonDict = dict[str, Any]
API_VERSION = "admission.k8s.io/v1"
_REASONS = {403: "Forbidden", 409: "Conflict", 422: "Invalid", 503: "ServiceUnavailable"}


class BadReview(ValueError):
    """Not an AdmissionReview we can answer; the message says what is missing."""


@dataclasses.dataclass(frozen=True)
class Request:
    uid: str
    kind: str
    group: str
    operation: str
    namespace: str
    name: str
    user_info: Mapping[str, Any]
    obj: JsonDict | None
    old: JsonDict | None
    dry_run: bool
    sub_resource: str = ""


def parse(body: bytes) -> Request:
    try:
        review = json.loads(body)
    except ValueError as error:
        raise BadReview(f"the body is not JSON: {error}") from None
    if not isinstance(review, dict) or review.get("kind") != "AdmissionReview":
        raise BadReview("the body is not an AdmissionReview")
    if review.get("apiVersion") != API_VERSION:
        raise BadReview(
            f"AdmissionReview {review.get('apiVersion')} is not supported; "
            f"set admissionReviewVersions: [v1] in the webhook configuration"
        )
    request = review.get("request")
    if not isinstance(request, dict) or not request.get("uid"):
        raise BadReview("the AdmissionReview has no request with a uid")
    kind = request.get("kind") or {}
    obj, old = request.get("object"), request.get("oldObject")
    namespace = str(request.get("namespace") or "")
    # The object carries its namespace on a create only once it is stored; the rules read it
    # from the object, so fill it in from the request.
    for body_ in (obj, old):
        if isinstance(body_, dict) and namespace:
            body_.setdefault("metadata", {}).setdefault("namespace", namespace)
    return Request(
        uid=str(request["uid"]),
        kind=str(kind.get("kind") or ""),
        group=str(kind.get("group") or ""),
        operation=str(request.get("operation") or ""),
        namespace=namespace,
        name=str(request.get("name") or ""),
        user_info=request.get("userInfo") or {},
        obj=obj if isinstance(obj, dict) else None,
        old=old if isinstance(old, dict) else None,
        dry_run=bool(request.get("dryRun")),
        sub_resource=str(request.get("subResource") or ""),
    )


def allow(
    uid: str, warnings: list[str] | None = None, patch: list[JsonDict] | None = None
) -> JsonDict:
    response: JsonDict = {"uid": uid, "allowed": True}
    if warnings:
        response["warnings"] = warnings
    if patch:
        response["patchType"] = "JSONPatch"
        response["patch"] = base64.b64encode(json.dumps(patch).encode()).decode()
    return _review(response)


def refuse(uid: str, errors: list[FieldError], warnings: list[str] | None = None) -> JsonDict:
    code = errors[0].code
    message = "; ".join(str(error) for error in errors)
    status: JsonDict = {
        "status": "Failure",
        "code": code,
        "reason": _REASONS.get(code, "BadRequest"),
        "message": message,
    }
    causes = [{"field": e.field, "message": e.message} for e in errors if e.field]
    if causes:
        status["details"] = {"causes": causes}
    response: JsonDict = {"uid": uid, "allowed": False, "status": status}
    if warnings:
        response["warnings"] = warnings
    return _review(response)


def _review(response: JsonDict) -> JsonDict:
    return {"apiVersion": API_VERSION, "kind": "AdmissionReview", "response": response}
