"""``racetrack graph``, ``audit``, ``redeploy`` and ``maintenance`` on the real control plane,
with the admission webhooks deciding and recording as they do for kubectl."""

from __future__ import annotations

import json
from typing import Any

import pytest
from portfolio_helpers import (  # type: ignore[import-not-found]
    OperatorProcess,
    apply,
    eventually,
    family_name,
    get_job,
    job,
    racetrack,
    wait_ready,
)

from racetrack_devcluster.launcher import LocalCluster

pytestmark = pytest.mark.cluster


def obj(kind: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "racetrack.io/v1alpha1",
        "kind": kind,
        "metadata": {"name": name},
        "spec": spec,
    }


def test_graph_draws_permissions_and_focuses(cluster: LocalCluster, namespace: str) -> None:
    family = family_name("graphed")
    apply(cluster, job(f"{family}-v1-0-0", namespace, family, "1.0.0"), namespace)
    apply(cluster, obj("ExternalServiceConsumer", "billing", {"description": "x"}), namespace)
    permission = {
        "subject": {"kind": "ExternalServiceConsumer", "name": "billing"},
        "scope": "call_job",
        "resource": {"family": family, "endpoint": "/api/v1/perform"},
    }
    apply(cluster, obj("Permission", "billing-calls", permission), namespace)
    kubeconfig = cluster.kubeconfig

    text = racetrack("graph", "-n", namespace, kubeconfig=kubeconfig)
    assert text.returncode == 0, text.stderr
    assert (
        f"ESC {namespace}/billing\n  call_job /api/v1/perform -> Job family {namespace}/{family}\n"
        in text.stdout
    )
    assert (
        f"Job family {namespace}/{family}\n  version 1.0.0 -> Job {namespace}/{family}-v1-0-0\n"
        in text.stdout
    )

    dot = racetrack("graph", "-n", namespace, "-o", "dot", kubeconfig=kubeconfig)
    assert dot.stdout.startswith("digraph permissions {")
    assert '[label="call_job /api/v1/perform"]' in dot.stdout

    focused = racetrack(
        "graph", "-n", namespace, "-o", "mermaid", "--focus", "billing", kubeconfig=kubeconfig
    )
    assert focused.returncode == 0, focused.stderr
    lines = focused.stdout.splitlines()
    assert lines[0] == "graph LR"
    nodes = [line for line in lines[1:] if "-->" not in line]
    assert len(nodes) == 2, focused.stdout  # billing and the family it may call
    assert f"Job family {namespace}/{family}" in focused.stdout
    assert f"{family}-v1-0-0" not in focused.stdout

    missing = racetrack("graph", "-n", namespace, "--focus", "nobody", kubeconfig=kubeconfig)
    assert missing.returncode == 2
    assert "no node named 'nobody'" in missing.stderr


def audit_json(kubeconfig: Any, *filters: str) -> list[dict[str, Any]]:
    shown = racetrack("audit", *filters, "-o", "json", kubeconfig=kubeconfig)
    assert shown.returncode == 0, shown.stderr
    events: list[dict[str, Any]] = json.loads(shown.stdout)
    return events


def test_audit_shows_newest_first_filtered_by_family_job_and_user(
    cluster: LocalCluster, namespace: str
) -> None:
    family = family_name("audited")
    kubeconfig = cluster.kubeconfig
    apply(cluster, job(f"{family}-v1-0-0", namespace, family, "1.0.0"), namespace)
    eventually(lambda: audit_json(kubeconfig, "--family", family), 30, "the first deploy")
    apply(cluster, job(f"{family}-v2-0-0", namespace, family, "2.0.0"), namespace)
    cluster.kubectl("delete", "rtjob", f"{family}-v1-0-0", "-n", namespace)

    def three() -> list[dict[str, Any]] | None:
        events = audit_json(kubeconfig, "--family", family)
        return events if len(events) == 3 else None

    events = eventually(three, 60, "two deploys and a confirmed deletion")
    assert [(e["action"], e["version"]) for e in events] == [
        ("job_deleted", "1.0.0"),
        ("job_deployed", "2.0.0"),
        ("job_deployed", "1.0.0"),
    ]
    assert [e["action"] for e in audit_json(kubeconfig, "--job", f"{family}@1.0.0")] == [
        "job_deleted",
        "job_deployed",
    ]
    assert len(audit_json(kubeconfig, "--job", f"{family}-v2-0-0")) == 1
    assert len(audit_json(kubeconfig, "--family", family, "--user", "racetrack-dev-admin")) == 3
    assert audit_json(kubeconfig, "--family", family, "--user", "somebody-else") == []
    assert len(audit_json(kubeconfig, "--family", family, "--limit", "1")) == 1

    table = racetrack("audit", "--family", family, kubeconfig=kubeconfig)
    lines = table.stdout.splitlines()
    assert lines[0].split() == ["TIME", "ACTION", "ACTOR", "FAMILY", "VERSION", "MESSAGE"]
    assert lines[1].split()[1:5] == ["job_deleted", "racetrack-dev-admin", family, "1.0.0"]


def test_maintenance_refuses_a_redeploy_until_it_is_off(
    cluster: LocalCluster, namespace: str, operator: OperatorProcess
) -> None:
    family = family_name("redeployed")
    name = f"{family}-v1-0-0"
    apply(cluster, job(name, namespace, family, "1.0.0"), namespace)
    wait_ready(cluster, namespace, name)
    kubeconfig = cluster.kubeconfig
    window = f"m-{namespace}"
    on = racetrack(
        "maintenance", "on", "--name", window, "-m", "Node upgrade", kubeconfig=kubeconfig
    )
    assert on.returncode == 0, on.stderr
    try:
        other = f"{window}-db"
        on_too = racetrack(
            "maintenance", "on", "--name", other, "-m", "DB move", kubeconfig=kubeconfig
        )
        assert on_too.returncode == 0, on_too.stderr
        ended = racetrack("maintenance", "off", "--name", other, kubeconfig=kubeconfig)
        assert ended.stdout == f"Maintenance {other} ended; still on: {window}.\n"
        again = racetrack("maintenance", "off", "--name", other, kubeconfig=kubeconfig)
        assert again.stdout == f"Maintenance {other} was not on.\n"
        status = racetrack("maintenance", "status", kubeconfig=kubeconfig)
        assert f"Maintenance is on ({window}): Node upgrade" in status.stdout
        assert other not in status.stdout
        refused = racetrack("redeploy", name, "-n", namespace, kubeconfig=kubeconfig)
        assert refused.returncode == 1
        assert "Racetrack is currently in maintenance mode" in refused.stderr
        assert "Node upgrade" in refused.stderr
        annotations = (get_job(cluster, namespace, name) or {})["metadata"].get("annotations")
        assert "racetrack.io/redeploy-at" not in (annotations or {})
    finally:
        off = racetrack("maintenance", "off", kubeconfig=kubeconfig)
    assert off.returncode == 0 and f"Maintenance is off ({window})" in off.stdout
    assert racetrack("maintenance", "status", kubeconfig=kubeconfig).stdout == (
        "Maintenance is off.\n"
    )
    switched = audit_json(kubeconfig, "--action", "maintenance_on")
    assert any(event["name"] == window for event in switched)

    done = racetrack("redeploy", name, "-n", namespace, "--wait", kubeconfig=kubeconfig)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == f"job {namespace}/{name}: redeployed and Ready"
    stamp = (get_job(cluster, namespace, name) or {})["metadata"]["annotations"][
        "racetrack.io/redeploy-at"
    ]
    deployment = json.loads(
        cluster.kubectl("get", "deployment", name, "-n", namespace, "-o", "json").stdout
    )
    template = deployment["spec"]["template"]["metadata"]["annotations"]
    assert template["racetrack.io/redeploy-at"] == stamp
    eventually(
        lambda: (
            [e["action"] for e in audit_json(kubeconfig, "--job", name)][:1] == ["job_redeployed"]
        ),
        30,
        "the redeploy audited",
    )

    missing = racetrack("redeploy", "no-such-job", "-n", namespace, kubeconfig=kubeconfig)
    assert missing.returncode == 1
    assert f"there is no Job no-such-job in namespace {namespace}" in missing.stderr
