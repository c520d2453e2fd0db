"""The ASGI app's wiring, over HTTP in process: what it answers before the watches listed,
when a pending audit event cannot be written, and what RBAC says about a User's creator."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from webhook_objects import job, review, user  # type: ignore[import-not-found]

from racetrack_kube.client import ApiError
from racetrack_webhooks.rules.world import World
from racetrack_webhooks.server.app import Admission, build_app
from racetrack_webhooks.settings import Settings

pytestmark = pytest.mark.asyncio


class FakeFeed:
    def __init__(self, world: World, synced: bool = True) -> None:
        self.world = world
        self._synced = synced

    def synced(self) -> bool:
        return self._synced


class FakeKube:
    def __init__(self, fail_create: bool = False, may_update_users: bool = False) -> None:
        self.created: list[dict[str, Any]] = []
        self.fail_create = fail_create
        self.may_update_users = may_update_users
        self.reviews: list[dict[str, Any]] = []

    async def create(self, collection: str, body: dict[str, Any]) -> dict[str, Any]:
        if self.fail_create:
            raise ApiError(500, "Internal Server Error", "etcdserver: request timed out")
        self.created.append(body)
        return body

    async def request(self, method: str, path: str, body: Any = None, **_: Any) -> dict[str, Any]:
        self.reviews.append(body)
        return {"status": {"allowed": self.may_update_users}}


def app(kube: FakeKube, world: World, synced: bool = True) -> Starlette:
    return build_app(Admission(kube, FakeFeed(world, synced), Settings()))  # type: ignore[arg-type]


async def call(asgi: Starlette, method: str, path: str, body: bytes = b"") -> httpx.Response:
    transport = httpx.ASGITransport(app=asgi)
    async with httpx.AsyncClient(transport=transport, base_url="https://webhooks") as http:
        return await http.request(method, path, content=body)


async def answer(asgi: Starlette, path: str, body: bytes) -> dict[str, Any]:
    response = await call(asgi, "POST", path, body)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()["response"]
    return result


async def test_before_the_watches_listed_every_request_is_refused_and_not_ready() -> None:
    asgi = app(FakeKube(), World(), synced=False)
    refused = await answer(asgi, "/validate", review("CREATE", job()))
    assert refused["allowed"] is False
    assert refused["status"]["code"] == 503
    assert "the racetrack admission webhooks are starting" in refused["status"]["message"]
    assert (await call(asgi, "GET", "/readyz")).status_code == 503
    assert (await call(asgi, "GET", "/livez")).status_code == 200
    assert (await call(app(FakeKube(), World()), "GET", "/readyz")).status_code == 200


async def test_a_malformed_body_is_a_400_with_the_reason() -> None:
    response = await call(app(FakeKube(), World()), "POST", "/mutate", b"[]")
    assert response.status_code == 400
    assert response.text == "the body is not an AdmissionReview\n"


async def test_an_admitted_deletion_writes_its_pending_event_before_answering() -> None:
    kube = FakeKube()
    deletion = review("DELETE", None, job(), username="bob")
    allowed = await answer(app(kube, World()), "/validate", deletion)
    assert allowed == {"uid": "req-1", "allowed": True}
    (event,) = kube.created
    assert event["metadata"]["labels"]["racetrack.io/pending"] == "true"


async def test_a_deletion_whose_event_cannot_be_written_is_refused() -> None:
    asgi = app(FakeKube(fail_create=True), World())
    refused = await answer(asgi, "/validate", review("DELETE", None, job()))
    assert refused["allowed"] is False
    assert "the audit event of this change could not be written" in refused["status"]["message"]
    assert "etcdserver: request timed out" in refused["status"]["message"]


@pytest.mark.parametrize("may_update_users", [True, False])
async def test_rbac_decides_whether_a_users_creator_may_register_it_active(
    may_update_users: bool,
) -> None:
    kube = FakeKube(may_update_users=may_update_users)
    creation = review("CREATE", user("bob", active=True), username="root")
    result = await answer(app(kube, World()), "/validate", creation)
    assert result["allowed"] is may_update_users
    (asked,) = kube.reviews
    assert asked["spec"]["user"] == "root"
    attributes = {"group": "racetrack.io", "resource": "users", "verb": "update"}
    assert asked["spec"]["resourceAttributes"] == attributes


async def test_the_stamp_comes_back_as_a_json_patch() -> None:
    creation = review("CREATE", job(), username="root")
    result = await answer(app(FakeKube(), World()), "/mutate", creation)
    assert result["patchType"] == "JSONPatch"
    (operation,) = json.loads(base64.b64decode(result["patch"]))
    assert operation["path"] == "/metadata/annotations"
    assert operation["value"]["racetrack.io/deployed-by"] == "root"
