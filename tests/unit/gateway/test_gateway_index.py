"""The index: informer events in, table changes out, only for what an event touched."""

from __future__ import annotations

import datetime
from typing import Any

from racetrack_api.tokens import token_hash
from racetrack_gateway.index import Index
from racetrack_gateway.render import tables
from racetrack_gateway.settings import Settings

NOW = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)


def job(
    name: str, version: str, ns: str = "ml", family: str = "adder", **meta: Any
) -> dict[str, Any]:
    return {
        "metadata": {
            "name": name,
            "namespace": ns,
            "creationTimestamp": "2026-01-01T00:00:00Z",
            **meta,
        },
        "spec": {"name": family, "version": version},
    }


def family(
    name: str = "adder",
    ns: str = "ml",
    created: str = "2026-01-01T00:00:00Z",
    versions: list[tuple[str, str, bool]] | None = None,
    hashes: list[str] | None = None,
) -> dict[str, Any]:
    status: dict[str, Any] = {
        "versions": [{"version": v, "job": j, "ready": r} for v, j, r in versions or []]
    }
    if hashes:
        status["token"] = {"secretName": "s", "hashes": hashes}
    return {
        "metadata": {"name": name, "namespace": ns, "creationTimestamp": created},
        "status": status,
    }


def service(name: str, ip: str, ns: str = "ml") -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": ns},
        "spec": {"clusterIP": ip, "ports": [{"port": 7000}]},
    }


def permission(name: str, ns: str = "ml", **resource: str) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": ns},
        "spec": {
            "subject": {"kind": "User", "name": "alice"},
            "scope": "call_job",
            "resource": resource,
        },
    }


def served(index: Index) -> dict[str, str]:
    index.flush(NOW)
    return index.partitions.tables[tables.VERSIONS]


def test_a_ready_version_with_a_service_is_routed_to_its_cluster_ip() -> None:
    index = Index(Settings())
    index.on_change("Job", None, job("adder-v1", "1.0.0"))
    index.on_change("JobFamily", None, family(versions=[("1.0.0", "adder-v1", True)]))
    routes = served(index)
    assert routes["adder/1.0.0"].startswith("nr|")  # no address yet: not serving
    assert "adder/latest" not in routes
    index.on_change("Service", None, service("adder-v1", "10.96.0.9"))
    assert served(index)["adder/latest"].startswith("ok|ml|1.0.0|")
    assert "10.96.0.9:7000" in next(iter(index.partitions.tables[tables.SERVERS].values()))


def test_a_status_only_change_of_a_job_renders_nothing() -> None:
    index = Index(Settings())
    index.on_change("Job", None, job("adder-v1", "1.0.0"))
    index.flush(NOW)
    with_status = {**job("adder-v1", "1.0.0"), "status": {"lastCallTime": "2026-01-01T00:00:05Z"}}
    index.on_change("Job", job("adder-v1", "1.0.0"), with_status)
    assert index._dirty == set()
    assert index.last_calls[("ml", "adder-v1")] == NOW + datetime.timedelta(seconds=5)


def test_the_upstream_override_counts_only_when_allowed() -> None:
    annotated = job(
        "adder-v1", "1.0.0", annotations={"racetrack.io/gateway-upstream": "127.0.0.1:9"}
    )
    for allowed, expected in ((False, "10.96.0.9:7000"), (True, "127.0.0.1:9")):
        index = Index(Settings(allow_upstream_override=allowed))
        index.on_change("Job", None, annotated)
        index.on_change("Service", None, service("adder-v1", "10.96.0.9"))
        index.flush(NOW)
        assert index.partitions.tables[tables.SERVERS]["ml.adder-v1"].endswith(expected)


def test_the_oldest_family_of_a_name_is_served_and_its_removal_hands_over() -> None:
    index = Index(Settings())
    index.on_change("Job", None, job("adder-v1", "1.0.0", ns="old"))
    index.on_change("Job", None, job("adder-v2", "2.0.0", ns="new"))
    index.on_change("JobFamily", None, family(ns="new", created="2026-02-01T00:00:00Z"))
    index.on_change("JobFamily", None, family(ns="old", created="2026-01-01T00:00:00Z"))
    routes = served(index)
    assert routes["adder/1.0.0"].split("|")[1] == "old"
    assert "adder/2.0.0" not in routes
    index.on_change("JobFamily", family(ns="old"), None)
    index.on_change("Job", job("adder-v1", "1.0.0", ns="old"), None)
    routes = served(index)
    assert routes["adder/2.0.0"].split("|")[1] == "new"
    assert "adder/1.0.0" not in routes


def test_a_version_pattern_grant_follows_new_versions() -> None:
    index = Index(Settings())
    index.on_change(
        "User",
        None,
        {
            "metadata": {"name": "alice"},
            "spec": {"active": True},
            "status": {"token": {"hashes": [token_hash("t")]}},
        },
    )
    index.on_change("Job", None, job("adder-v1", "1.0.0"))
    index.on_change("Permission", None, permission("p", family="adder", version="1.x"))
    index.flush(NOW)
    assert set(index.partitions.tables[tables.PERMS]) == {"u/alice|ml|adder|1.0.0|"}
    index.on_change("Job", None, job("adder-v2", "1.1.0"))
    index.on_change("Job", None, job("adder-v3", "2.0.0"))
    delta = index.flush(NOW)
    assert delta.changes[tables.PERMS] == {"u/alice|ml|adder|1.1.0|": (None, "1")}


def test_only_the_watched_namespaces_and_the_platform_permissions_count() -> None:
    index = Index(Settings(namespaces=("ml",)))
    index.on_change("Job", None, job("other-v1", "1.0.0", ns="elsewhere", family="other"))
    index.on_change("Permission", None, permission("p", ns="elsewhere"))
    index.on_change("Permission", None, permission("q", ns="racetrack-system"))
    index.flush(NOW)
    assert "other" not in index.routed
    assert set(index.grants) == {("racetrack-system", "q")}


def test_maintenance_that_blocks_calls_sets_its_text_and_lifting_it_clears_it() -> None:
    index = Index(Settings())
    blocking = {
        "metadata": {"name": "m", "creationTimestamp": "2026-01-01T00:00:00Z"},
        "spec": {"active": True, "blockCalls": True, "message": "Back at 14:00."},
    }
    index.on_change("Maintenance", None, blocking)
    index.flush(NOW)
    assert index.partitions.tables[tables.STATE][tables.MAINTENANCE_KEY].endswith("Back at 14:00.")
    lifted = {**blocking, "spec": {"active": False, "blockCalls": True}}
    index.on_change("Maintenance", blocking, lifted)
    index.flush(NOW)
    assert tables.MAINTENANCE_KEY not in index.partitions.tables[tables.STATE]
    not_blocking = {**blocking, "spec": {"active": True}}
    index.on_change("Maintenance", lifted, not_blocking)
    index.flush(NOW)
    assert tables.MAINTENANCE_KEY not in index.partitions.tables[tables.STATE]


def test_a_token_leaves_the_tables_when_it_expires() -> None:
    index = Index(Settings())
    expires = NOW + datetime.timedelta(minutes=5)
    index.on_change(
        "ExternalServiceConsumer",
        None,
        {
            "metadata": {"name": "portal", "namespace": "ml"},
            "status": {"token": {"hashes": [token_hash("t")], "expiresAt": "2026-01-01T00:05:00Z"}},
        },
    )
    index.flush(NOW)
    assert index.partitions.tables[tables.TOKENS] == {token_hash("t"): "e/ml/portal"}
    assert index.next_expiry(NOW) == expires
    delta = index.flush(expires)
    assert delta.changes[tables.TOKENS] == {token_hash("t"): ("e/ml/portal", None)}
    assert index.next_expiry(expires) is None


def test_servers_know_whose_they_are() -> None:
    index = Index(Settings())
    index.on_change("Job", None, job("adder-v1", "1.0.0"))
    index.flush(NOW)
    info = index.servers["ml.adder-v1"]
    assert (info.namespace, info.job, info.family, info.version) == (
        "ml",
        "adder-v1",
        "adder",
        "1.0.0",
    )
