"""The server as the API server meets it: down (the documented failurePolicy), a renewed
certificate, odd requests, and the auditor's Lease (one writer, hand-over, catch-up)."""

from __future__ import annotations

import datetime
import json
import socket
import ssl
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from cryptography import x509
from webhook_helpers import (  # type: ignore[import-not-found]
    Identity,
    audit_events,
    job,
    wait_for_event,
)

from racetrack_devcluster.webhooks import PLATFORM_NAMESPACE, DevWebhooks
from support import eventually  # type: ignore[import-not-found]

pytestmark = pytest.mark.cluster

LEASE = "racetrack-webhooks-auditor"


def test_while_the_webhooks_are_down_changes_are_refused_and_reads_still_work(
    webhooks: DevWebhooks, admin: Identity, namespace: str
) -> None:
    assert admin.apply(job("adder-v1", namespace)).returncode == 0
    webhooks.stop()
    try:
        created = admin.apply(job("adder-v2", namespace, version="2.0.0"))
        assert created.returncode != 0
        # failurePolicy Fail: kubectl apply is refused, naming the webhook and why.
        assert (
            'Internal error occurred: failed calling webhook "stamp.webhooks.racetrack.io"'
            in created.stderr
        )
        assert "connect: connection refused" in created.stderr
        deleted = admin.kubectl("delete", "rtjob", "adder-v1", "-n", namespace)
        assert deleted.returncode != 0
        assert 'failed calling webhook "jobs.webhooks.racetrack.io"' in deleted.stderr
        # Reads, status writes (the operator's) and label changes are never sent: they work.
        assert admin.kubectl("get", "rtjob", "adder-v1", "-n", namespace).returncode == 0
        status = admin.kubectl(
            "patch", "rtjob", "adder-v1", "-n", namespace, "--subresource=status",
            "--type=merge", "-p", '{"status": {"replicas": 3}}',
        )  # fmt: skip
        assert status.returncode == 0, status.stderr
        assert (
            admin.kubectl("label", "rtjob", "adder-v1", "-n", namespace, "team=ml").returncode == 0
        )
    finally:
        webhooks.start()
    again = admin.apply(job("adder-v2", namespace, version="2.0.0"))
    assert again.returncode == 0, again.stderr


def _presented(webhooks: DevWebhooks) -> x509.Certificate:
    context = ssl.create_default_context(cafile=str(webhooks.ca))
    with (
        socket.create_connection((webhooks.host, webhooks.port), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname=webhooks.host) as tls,
    ):
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    return x509.load_der_x509_certificate(der)


def test_a_renewed_certificate_is_served_without_a_restart(
    webhooks: DevWebhooks, admin: Identity, namespace: str
) -> None:
    assert webhooks.component is not None
    pid = webhooks.component.pid
    before = _presented(webhooks).serial_number
    renewed = webhooks.issue_serving_certificate()
    assert renewed.serial_number != before
    eventually(
        lambda: _presented(webhooks).serial_number == renewed.serial_number,
        30,
        "the server to present the renewed certificate",
    )
    assert webhooks.component.pid == pid and webhooks.component.running()
    # The API server keeps calling it over TLS.
    assert admin.apply(job("adder-v1", namespace)).returncode == 0
    assert "Loaded the renewed serving certificate" in webhooks.log_text()


def _post(webhooks: DevWebhooks, path: str, body: bytes) -> tuple[int, str]:
    context = ssl.create_default_context(cafile=str(webhooks.ca))
    request = urllib.request.Request(
        webhooks.url(path), data=body, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, context=context, timeout=5) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def test_odd_requests_get_a_clear_answer_never_a_crash(webhooks: DevWebhooks) -> None:
    status, text = _post(webhooks, "/validate", b"{not json")
    assert status == 400 and text.startswith("the body is not JSON: Expecting property name")
    status, text = _post(webhooks, "/mutate", json.dumps({"kind": "AdmissionReview"}).encode())
    assert status == 400 and "admissionReviewVersions: [v1]" in text
    configmap = {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": "u-1", "operation": "CREATE", "kind": {"group": "", "kind": "ConfigMap"},
            "namespace": "ml", "userInfo": {"username": "x"},
            "object": {"kind": "ConfigMap", "metadata": {"name": "c"}},
        },
    }  # fmt: skip
    status, text = _post(webhooks, "/validate", json.dumps(configmap).encode())
    assert status == 200
    assert json.loads(text)["response"] == {"uid": "u-1", "allowed": True}
    assert webhooks.component is not None and webhooks.component.running()


def _holder(webhooks: DevWebhooks) -> str | None:
    lease = webhooks.cluster.kubectl(
        "get", "lease", LEASE, "-n", PLATFORM_NAMESPACE, "-o", "json", check=False
    )
    if lease.returncode != 0:
        return None
    holder: str | None = json.loads(lease.stdout)["spec"].get("holderIdentity")
    return holder


def test_changes_made_while_nobody_audits_are_audited_when_someone_does(
    webhooks: DevWebhooks, admin: Identity, namespace: str
) -> None:
    """Someone else holds the Lease: nothing is written. Once it is free again, the auditor
    catches up with every change it missed, at the time each was made."""
    cluster = webhooks.cluster
    eventually(lambda: _holder(webhooks) == webhooks.identity, 30, "the webhooks to hold the Lease")
    taken = {
        "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
        "metadata": {"name": LEASE, "namespace": PLATFORM_NAMESPACE},
        "spec": {"holderIdentity": "someone-else", "leaseDurationSeconds": 3600,
                 "renewTime": time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime())},
    }  # fmt: skip
    cluster.kubectl("replace", "-f", "-", input=json.dumps(taken))
    eventually(
        lambda: (
            "someone-else holds the auditor's Lease now; stopped auditing" in webhooks.log_text()
        ),
        30,
        "the webhooks to stop auditing",
    )
    assert admin.apply(job("missed-v1", namespace, family="missed")).returncode == 0
    admitted = datetime.datetime.now(datetime.UTC)
    selector = f"racetrack.io/namespace={namespace}"
    time.sleep(4)
    assert audit_events(cluster, selector) == [], "an auditor wrote without the Lease"
    cluster.kubectl("delete", "lease", LEASE, "-n", PLATFORM_NAMESPACE)
    event = wait_for_event(cluster, selector, "job_deployed")
    assert _holder(webhooks) == webhooks.identity
    # Dated when it was admitted, not when it was written.
    written = datetime.datetime.fromisoformat(event["metadata"]["creationTimestamp"])
    dated = datetime.datetime.fromisoformat(event["spec"]["time"])
    assert abs((dated - admitted).total_seconds()) < 2
    assert (written - dated).total_seconds() > 3


def test_a_second_replica_takes_over_when_the_first_stops(
    webhooks: DevWebhooks, admin: Identity, namespace: str, tmp_path: Path
) -> None:
    second = DevWebhooks(webhooks.cluster, tmp_path / "second", dict(webhooks.env))
    second.prepare()
    second.start()
    try:
        time.sleep(3)
        assert _holder(webhooks) == webhooks.identity  # one writer at a time
        webhooks.stop()  # releases the Lease on the way out
        eventually(lambda: _holder(webhooks) == second.identity, 15, "the second to take over")
        second.register()
        assert admin.apply(job("adder-v1", namespace)).returncode == 0
        event = wait_for_event(
            webhooks.cluster, f"racetrack.io/namespace={namespace}", "job_deployed"
        )
        assert event["spec"]["actor"] == "racetrack-dev-admin"
        assert "Took the auditor's Lease" in second.log_text()
    finally:
        second.stop()
        webhooks.start()
        webhooks.register()
        webhooks.wait_registered()
