"""The watch-fed store against a real API server: additions, changes, deletions, an expired
resourceVersion, and objects that vanished while nobody watched."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
import yaml
from kubernetes import config

from gateway_harness import Relay  # type: ignore[import-not-found]
from racetrack_api.v1alpha1 import Maintenance
from racetrack_devcluster.launcher import LocalCluster
from racetrack_kube import client as client_module
from racetrack_kube import paths
from racetrack_kube.client import Kube
from racetrack_kube.informer import Gone, Informer

pytestmark = [pytest.mark.cluster, pytest.mark.asyncio]

Change = tuple[str, str | None, str | None]


class Recorder:
    def __init__(self) -> None:
        self.changes: list[Change] = []

    def __call__(self, kind: str, old: dict[str, Any] | None, new: dict[str, Any] | None) -> None:
        self.changes.append((kind, _name(old), _name(new)))


def _name(obj: dict[str, Any] | None) -> str | None:
    return None if obj is None else str(obj["metadata"]["name"])


@pytest_asyncio.fixture
async def kube(cluster: LocalCluster) -> AsyncIterator[Kube]:
    client = Kube(cluster.api_client(), 4)
    yield client
    client.close()


def maintenance(name: str, message: str) -> str:
    return yaml.safe_dump(
        {"apiVersion": "racetrack.io/v1alpha1", "kind": "Maintenance",
         "metadata": {"name": name}, "spec": {"active": False, "message": message}}
    )  # fmt: skip


async def until(condition: Any) -> None:
    async with asyncio.timeout(30):
        while not condition():  # noqa: ASYNC110 - the store has no event per object
            await asyncio.sleep(0.05)


async def test_the_store_follows_additions_changes_and_deletions(
    cluster: LocalCluster, kube: Kube
) -> None:
    name = f"informer-{uuid.uuid4().hex[:6]}"
    recorder = Recorder()
    informer = Informer(kube, "Maintenance", paths.racetrack(Maintenance), recorder)
    task = asyncio.create_task(informer.run())
    try:
        await asyncio.wait_for(informer.synced.wait(), 30)
        cluster.kubectl("apply", "-f", "-", input=maintenance(name, "one"))
        await until(lambda: informer.get(None, name) is not None)
        cluster.kubectl("apply", "-f", "-", input=maintenance(name, "two"))
        await until(
            lambda: (informer.get(None, name) or {}).get("spec", {}).get("message") == "two"
        )
        cluster.kubectl("delete", "rtmaint", name)
        await until(lambda: informer.get(None, name) is None)
    finally:
        task.cancel()
    ours = [change for change in recorder.changes if name in (change[1], change[2])]
    assert ours[0] == ("Maintenance", None, name)
    assert ours[-1] == ("Maintenance", name, None)
    assert ("Maintenance", name, name) in ours


async def test_an_expired_resource_version_asks_for_a_new_list(kube: Kube) -> None:
    informer = Informer(kube, "Maintenance", paths.racetrack(Maintenance), Recorder())
    await informer._list()
    informer._resource_version = "1"  # long compacted away
    with pytest.raises(Gone):
        await asyncio.wait_for(informer._watch(), 30)


async def test_objects_gone_while_nobody_watched_are_reported_deleted(
    cluster: LocalCluster, kube: Kube
) -> None:
    name = f"informer-{uuid.uuid4().hex[:6]}"
    cluster.kubectl("apply", "-f", "-", input=maintenance(name, "one"))
    recorder = Recorder()
    informer = Informer(kube, "Maintenance", paths.racetrack(Maintenance), recorder)
    await informer._list()
    assert informer.get(None, name) is not None
    cluster.kubectl("delete", "rtmaint", name)
    await informer._list()
    assert informer.get(None, name) is None
    assert ("Maintenance", name, None) in recorder.changes


async def test_a_narrowed_metadata_only_watch_keeps_what_the_transform_returns(
    cluster: LocalCluster, kube: Kube
) -> None:
    name, other = (f"informer-{uuid.uuid4().hex[:6]}" for _ in range(2))
    seen: list[dict[str, Any]] = []

    def keep(body: dict[str, Any]) -> dict[str, Any]:
        seen.append(body)
        meta = body["metadata"]
        return {"metadata": {k: meta[k] for k in ("name", "resourceVersion")}, "kept": True}

    informer = Informer(
        kube,
        "Maintenance",
        paths.racetrack(Maintenance),
        Recorder(),
        field_selector=f"metadata.name={name}",
        metadata_only=True,
        transform=keep,
    )
    task = asyncio.create_task(informer.run())
    try:
        await asyncio.wait_for(informer.synced.wait(), 30)
        cluster.kubectl("apply", "-f", "-", input=maintenance(other, "not this one"))
        cluster.kubectl("apply", "-f", "-", input=maintenance(name, "this one"))
        await until(lambda: informer.get(None, name) is not None)
        cluster.kubectl("apply", "-f", "-", input=maintenance(name, "changed"))
        await until(lambda: len([b for b in seen if b["metadata"]["name"] == name]) >= 2)
    finally:
        task.cancel()
        cluster.kubectl("delete", "rtmaint", name, other, check=False)
    assert informer.get(None, name) == {
        "metadata": {"name": name, "resourceVersion": informer.store[("", name)]["metadata"][
            "resourceVersion"
        ]},
        "kept": True,
    }  # fmt: skip
    assert informer.get(None, other) is None  # narrowed on the server side
    assert all(body["kind"] == "PartialObjectMetadata" for body in seen)
    assert all("spec" not in body for body in seen)


async def test_an_unreachable_api_server_is_retried_until_it_answers(
    cluster: LocalCluster, tmp_path: Path
) -> None:
    relay = Relay(("127.0.0.1", cluster.apiserver_port))  # closed: connections are refused
    kubeconfig = relay.kubeconfig(cluster.kubeconfig, tmp_path / "relayed.kubeconfig")
    client = Kube(config.new_client_from_config(config_file=str(kubeconfig)), 4)
    informer = Informer(client, "Maintenance", paths.racetrack(Maintenance), Recorder())
    task = asyncio.create_task(informer.run())
    try:
        await asyncio.sleep(2)
        assert not informer.synced.is_set() and not task.done()  # failing, and retrying
        relay.open()
        await asyncio.wait_for(informer.synced.wait(), 60)
    finally:
        task.cancel()
        relay.cut()
        client.close()


async def test_a_transform_slims_what_is_stored_and_reported(
    cluster: LocalCluster, kube: Kube
) -> None:
    name = f"informer-{uuid.uuid4().hex[:6]}"
    cluster.kubectl("apply", "-f", "-", input=maintenance(name, "one"))

    def slim(obj: dict[str, Any]) -> dict[str, Any]:
        meta = obj["metadata"]
        return {"metadata": {k: meta[k] for k in ("name", "resourceVersion")}}

    informer = Informer(
        kube, "Maintenance", paths.racetrack(Maintenance), Recorder(), transform=slim
    )
    await informer._list()
    stored = informer.get(None, name)
    assert stored is not None and set(stored) == {"metadata"}
    assert set(stored["metadata"]) == {"name", "resourceVersion"}
    cluster.kubectl("delete", "rtmaint", name)


def five_maintenances(cluster: LocalCluster, prefix: str) -> list[str]:
    names = [f"{prefix}-{uuid.uuid4().hex[:6]}-{i}" for i in range(5)]
    cluster.kubectl("apply", "-f", "-", input="---\n".join(maintenance(n, "x") for n in names))
    return names


def pages_of_two(kube: Kube, monkeypatch: pytest.MonkeyPatch) -> list[list[tuple[str, str]]]:
    """Lists come two objects a page; the query of every request is recorded."""
    monkeypatch.setattr(client_module, "LIST_PAGE", 2)
    pages: list[list[tuple[str, str]]] = []
    request = kube.request

    async def counting(method: str, path: str, *args: Any, **kwargs: Any) -> Any:
        pages.append(list(kwargs.get("query") or []))
        return await request(method, path, *args, **kwargs)

    monkeypatch.setattr(kube, "request", counting)
    return pages


async def test_a_list_longer_than_a_page_is_read_page_by_page_into_one_snapshot(
    cluster: LocalCluster, kube: Kube, monkeypatch: pytest.MonkeyPatch
) -> None:
    names = five_maintenances(cluster, "informer")
    pages = pages_of_two(kube, monkeypatch)
    informer = Informer(kube, "Maintenance", paths.racetrack(Maintenance), Recorder())
    try:
        await informer._list()
        assert all(informer.get(None, n) is not None for n in names)
        assert len(pages) >= 3  # at least five objects, two a page
        assert all(("limit", "2") in query for query in pages)
        # The watch continues from the paged list's snapshot: a change made after it is
        # delivered without listing again.
        task = asyncio.create_task(informer._watch())
        cluster.kubectl("apply", "-f", "-", input=maintenance(names[0], "changed"))
        await until(
            lambda: (informer.get(None, names[0]) or {}).get("spec", {}).get("message") == "changed"
        )
        task.cancel()
    finally:
        cluster.kubectl("delete", "rtmaint", *names)


async def test_list_objects_reads_page_by_page_and_keeps_what_the_transform_returns(
    cluster: LocalCluster, kube: Kube, monkeypatch: pytest.MonkeyPatch
) -> None:
    names = five_maintenances(cluster, "listed")
    pages = pages_of_two(kube, monkeypatch)
    try:
        listed = await kube.list_objects(
            paths.racetrack(Maintenance),
            transform=lambda obj: {"name": obj["metadata"]["name"], "spec": obj["spec"]},
        )
        assert {item["name"] for item in listed} >= set(names)
        assert all(set(item) == {"name", "spec"} for item in listed)
        assert len(pages) >= 3 and all(("limit", "2") in query for query in pages)
    finally:
        cluster.kubectl("delete", "rtmaint", *names)


async def test_a_stored_view_keeps_less_than_is_reported_and_pages_are_reported_as_they_come(
    cluster: LocalCluster, kube: Kube, monkeypatch: pytest.MonkeyPatch
) -> None:
    names = five_maintenances(cluster, "handed-on")
    reported: list[tuple[dict[str, Any] | None, dict[str, Any] | None]] = []
    reported_before_each_request: list[int] = []
    pages_of_two(kube, monkeypatch)
    paged_request = kube.request

    async def noting(method: str, path: str, *args: Any, **kwargs: Any) -> Any:
        reported_before_each_request.append(len(reported))
        return await paged_request(method, path, *args, **kwargs)

    monkeypatch.setattr(kube, "request", noting)

    def name_only(obj: dict[str, Any]) -> dict[str, Any]:
        meta = obj["metadata"]
        return {"metadata": {k: meta[k] for k in ("name", "resourceVersion")}}

    informer = Informer(
        kube,
        "Maintenance",
        paths.racetrack(Maintenance),
        lambda _, old, new: reported.append((old, new)),
        stored=name_only,
    )
    try:
        await informer._list()
        # Whole objects were handed on; the store kept names and versions only.
        ours = [new for _, new in reported if new and new["metadata"]["name"] in names]
        assert sorted(new["metadata"]["name"] for new in ours) == sorted(names)
        assert all(new["spec"]["message"] == "x" for new in ours)
        assert all(set(informer.get(None, n) or {}) == {"metadata"} for n in names)
        # The first page's objects were reported before the second page was asked for.
        assert reported_before_each_request[0] == 0 and reported_before_each_request[1] == 2
        # A list again reports only what changed; a deletion reports the stored view.
        reported.clear()
        cluster.kubectl("delete", "rtmaint", names[0])
        await informer._list()
        (deleted,) = [obj for obj in ours if obj["metadata"]["name"] == names[0]]
        assert reported == [(name_only(deleted), None)]
    finally:
        cluster.kubectl("delete", "rtmaint", *names[1:])
