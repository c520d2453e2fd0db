"""The gateway agent on the real control plane: Users, ESCs and job families call real job
runtimes over real HTTP through HAProxy, as the racetrack.io objects say, and every change
of those objects reaches HAProxy without a reload."""

from __future__ import annotations

import datetime

import httpx
import pytest
from gateway_helpers import (  # type: ignore[import-not-found]
    Stack,
    apply,
    esc,
    issued_token,
    job,
    permission,
    publish_token,
    reset_token,
    status_of,
    unique,
    until_status,
    user,
    user_token,
    wait_serving,
)

from racetrack_api import tokens
from support import eventually  # type: ignore[import-not-found]

pytestmark = pytest.mark.cluster


def adder_family(stack: Stack, **spec: object) -> str:
    family: str = unique("adder")
    apply(stack.cluster, job(stack.namespace, family, "1.0.0", stack.adder.address, **spec))
    wait_serving(stack.cluster, stack.namespace, family, 1)
    return family


def test_users_escs_and_job_families_call_with_their_tokens(stack: Stack) -> None:
    family = adder_family(stack)
    ns, cluster = stack.namespace, stack.cluster
    alice, portal, chain = unique("alice"), unique("portal"), unique("chain")
    apply(
        cluster,
        user(alice),
        esc(ns, portal),
        # A family of another namespace calls (one the operator does not watch, so nothing
        # but this test writes its status).
        {
            "apiVersion": "racetrack.io/v1alpha1",
            "kind": "JobFamily",
            "metadata": {"name": chain, "namespace": stack.callers_namespace},
        },
        permission(ns, unique("p"), "User", alice, family=family),
        permission(
            ns,
            unique("p"),
            "ExternalServiceConsumer",
            portal,
            family=family,
            endpoint="/api/v1/perform",
        ),
        permission(
            ns,
            unique("p"),
            "JobFamily",
            chain,
            family=family,
            version="1.x",
            subject_namespace=stack.callers_namespace,
        ),
    )
    callers = {
        "User": user_token(stack, alice),
        "ESC": issued_token(cluster, "esc", portal, ns),
        "Job family": publish_token(cluster, chain, stack.callers_namespace),
    }
    for token in callers.values():
        path = f"/pub/job/{family}/latest/api/v1/perform"
        answer = until_status(
            lambda path=path, token=token: stack.gateway.call(path, token, a=40, b=2), 200
        )
        assert answer.json() == 42
    answer = stack.gateway.call(f"/pub/job/{family}/1.0.0/api/v1/parameters", callers["ESC"])
    assert answer.status_code == 403
    assert 'auth subject "ESC ' in answer.json()["error"]


def test_a_new_user_calls_every_job_until_an_admin_withdraws_the_default_grant(
    stack: Stack,
) -> None:
    family = adder_family(stack)
    frank = unique("frank")
    apply(stack.cluster, user(frank))
    token = issued_token(stack.cluster, "rtuser", frank)
    perform = f"/pub/job/{family}/1.0.0/api/v1/perform"
    assert until_status(lambda: stack.gateway.call(perform, token, a=2, b=3), 200).json() == 5
    stack.cluster.kubectl("delete", "rtperm", f"user-{frank}-call-job", "-n", stack.platform)
    until_status(lambda: stack.gateway.call(perform, token, a=2, b=3), 403)


def test_refusals_name_what_is_wrong(stack: Stack) -> None:
    family = adder_family(stack)
    ns, cluster = stack.namespace, stack.cluster
    bob = unique("bob")
    apply(cluster, user(bob))
    token = user_token(stack, bob)
    perform = f"/pub/job/{family}/1.0.0/api/v1/perform"
    assert stack.gateway.call(perform).status_code == 401
    assert stack.gateway.call(perform, "garbage").status_code == 401
    forbidden = until_status(lambda: stack.gateway.call(perform, token), 403)
    assert forbidden.json()["caller"] == f"User {bob}"
    assert stack.gateway.call(f"/pub/job/{family}/2.x/", token).status_code == 404
    assert stack.gateway.call(f"/pub/job/{unique('none')}/1.0.0/", token).status_code == 404
    # A version whose Job cannot run (a missing Secret): known, not serving.
    apply(
        cluster,
        job(ns, family, "1.1.0", stack.adder.address, secretRuntimeEnv={"name": "missing-secret"}),
    )
    apply(cluster, permission(ns, unique("p"), "User", bob, family=family))
    not_serving = until_status(lambda: stack.gateway.call(f"/pub/job/{family}/1.1.0/", token), 503)
    assert "not serving" in not_serving.json()["error"]
    # latest still names the serving version
    assert (
        stack.gateway.call(f"/pub/job/{family}/latest/api/v1/perform", token, a=1, b=2).json() == 3
    )


def test_rotation_deactivation_and_deletion_take_effect_without_a_reload(stack: Stack) -> None:
    family = adder_family(stack)
    ns, cluster, gateway = stack.namespace, stack.cluster, stack.gateway
    carol, portal = unique("carol"), unique("portal")
    apply(
        cluster,
        user(carol),
        esc(ns, portal),
        permission(ns, unique("p"), "User", carol, family=family),
        permission(ns, unique("p"), "ExternalServiceConsumer", portal, family=family),
    )
    perform = f"/pub/job/{family}/1.0.0/api/v1/perform"
    pid = gateway.haproxy_pid()
    old = user_token(stack, carol)
    until_status(lambda: gateway.call(perform, old, a=1, b=1), 200)
    new = reset_token(cluster, "rtuser", carol, old)
    until_status(lambda: gateway.call(perform, old, a=1, b=1), 401)
    assert gateway.call(perform, new, a=1, b=1).status_code == 200
    apply(cluster, user(carol, active=False))
    until_status(lambda: gateway.call(perform, new, a=1, b=1), 401)
    esc_token = issued_token(cluster, "esc", portal, ns)
    until_status(lambda: gateway.call(perform, esc_token, a=1, b=1), 200)
    cluster.kubectl("delete", "esc", portal, "-n", ns)
    until_status(lambda: gateway.call(perform, esc_token, a=1, b=1), 401)
    assert gateway.haproxy_pid() == pid  # no reload, no restart


def test_permission_changes_and_maintenance_reach_the_next_calls(stack: Stack) -> None:
    family = adder_family(stack)
    ns, cluster, gateway = stack.namespace, stack.cluster, stack.gateway
    dave = unique("dave")
    grant = unique("p")
    apply(cluster, user(dave), permission(ns, grant, "User", dave, family=family))
    token = user_token(stack, dave)
    perform = f"/pub/job/{family}/1.0.0/api/v1/perform"
    until_status(lambda: gateway.call(perform, token, a=1, b=1), 200)
    cluster.kubectl("delete", "rtperm", grant, "-n", ns)
    until_status(lambda: gateway.call(perform, token, a=1, b=1), 403)
    apply(cluster, permission(ns, grant, "User", dave, family=family))
    until_status(lambda: gateway.call(perform, token, a=1, b=1), 200)
    name = unique("maintenance")
    maintenance = {
        "apiVersion": "racetrack.io/v1alpha1",
        "kind": "Maintenance",
        "metadata": {"name": name},
        "spec": {"active": True, "blockCalls": True, "message": "Back at 14:00."},
    }
    apply(cluster, maintenance)
    try:
        blocked = until_status(lambda: gateway.call(perform, token, a=1, b=1), 503)
        assert blocked.json()["error"] == (
            "Racetrack is currently in maintenance mode. Please try again later. Back at 14:00."
        )
    finally:
        cluster.kubectl("delete", "rtmaint", name)
    until_status(lambda: gateway.call(perform, token, a=1, b=1), 200)


def test_a_new_version_becomes_latest_and_public_endpoints_need_no_token(stack: Stack) -> None:
    ns, cluster, gateway = stack.namespace, stack.cluster, stack.gateway
    family = unique("echo")
    apply(cluster, job(ns, family, "1.0.0", stack.echo.address, publicEndpoints=["/open"]))
    wait_serving(cluster, ns, family, 1)
    opened = until_status(lambda: gateway.client.get(f"/pub/job/{family}/latest/open/x"), 200)
    assert opened.json()["path"] == f"/pub/job/{family}/1.0.0/open/x"
    assert gateway.client.get(f"/pub/job/{family}/latest/closed").status_code == 401
    apply(cluster, job(ns, family, "1.1.0", stack.echo.address, publicEndpoints=["/open"]))
    wait_serving(cluster, ns, family, 2)

    def latest_path() -> str:
        return str(gateway.client.get(f"/pub/job/{family}/latest/open").json()["path"])

    eventually(lambda: latest_path() == f"/pub/job/{family}/1.1.0/open", 30)
    cluster.kubectl("delete", "rtjob", f"{family}-v1-1-0", "-n", ns)
    eventually(lambda: latest_path() == f"/pub/job/{family}/1.0.0/open", 30)


def test_the_last_call_time_reaches_the_job_and_survives_the_operator(stack: Stack) -> None:
    ns, cluster, gateway = stack.namespace, stack.cluster, stack.gateway
    family = unique("echo")
    apply(cluster, job(ns, family, "1.0.0", stack.echo.address, publicEndpoints=["/"]))
    wait_serving(cluster, ns, family, 1)
    name = f"{family}-v1-0-0"
    assert "lastCallTime" not in status_of(cluster, "rtjob", name, ns)
    before = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
    until_status(lambda: gateway.client.get(f"/pub/job/{family}/1.0.0/"), 200)
    written = eventually(lambda: status_of(cluster, "rtjob", name, ns).get("lastCallTime"), 30)
    # The agent's metrics count the call under the original's names.
    metrics = httpx.get(f"http://127.0.0.1:{gateway.agent_port}/metrics", timeout=10).text
    labels = f'job_name="{family}",job_version="1.0.0"'
    assert f"pub_job_proxy_requests{{{labels}}} 1.0" in metrics
    assert f'pub_job_proxy_response_codes{{{labels},status_code="2xx"}} 1.0' in metrics
    called = datetime.datetime.fromisoformat(written.replace("Z", "+00:00"))
    assert before - datetime.timedelta(seconds=2) <= called <= datetime.datetime.now(datetime.UTC)
    # A redeploy: the operator rolls the Deployment and rewrites the status; the time stays.
    conditions = status_of(cluster, "rtjob", name, ns)["conditions"]
    cluster.kubectl("annotate", "rtjob", name, "-n", ns, "racetrack.io/redeploy-at=now")
    eventually(lambda: status_of(cluster, "rtjob", name, ns)["conditions"] != conditions, 60)
    assert status_of(cluster, "rtjob", name, ns)["lastCallTime"] == written


def test_tokens_never_appear_in_the_agents_or_haproxys_logs(stack: Stack) -> None:
    family = adder_family(stack)
    erin = unique("erin")
    apply(
        stack.cluster,
        user(erin),
        permission(stack.namespace, unique("p"), "User", erin, family=family),
    )
    token = user_token(stack, erin)
    perform = f"/pub/job/{family}/1.0.0/api/v1/perform"
    until_status(lambda: stack.gateway.call(perform, token, a=1, b=1), 200)
    stack.gateway.call(perform, token + "x")
    logs = stack.gateway.agent.logs() + stack.gateway.haproxy_log.read_text(errors="replace")
    assert f"/pub/job/{family}/1.0.0/api/v1/perform" in logs
    assert token not in logs and tokens.token_hash(token) not in logs


def test_an_asynchronous_call_is_checked_started_and_polled_through_the_agents_gateway(
    stack: Stack,
) -> None:
    ns, cluster, gateway = stack.namespace, stack.cluster, stack.gateway
    family, portal = adder_family(stack), unique("portal")
    apply(cluster, esc(ns, portal), permission(ns, unique("p"), "ExternalServiceConsumer",
                                               portal, family=family))  # fmt: skip
    token = issued_token(cluster, "esc", portal, ns)
    path = f"/pub/async/new/job/{family}/latest/api/v1/perform"
    started = until_status(lambda: gateway.call(path, token, a=40, b=2), 201)
    task_id = started.json()["task_id"]
    assert started.json() == {"task_id": task_id, "status": "ongoing"}
    # Polled without a token: the task id is the secret.
    answer = until_status(lambda: gateway.client.get(f"/pub/async/task/{task_id}/poll"), 200)
    assert answer.json() == 42
    status = gateway.client.get(f"/pub/async/task/{task_id}/status")
    assert status.json() == {"task_id": task_id, "status": "completed"}
    metrics = httpx.get(f"http://127.0.0.1:{gateway.agent_port}/metrics", timeout=10).text
    labels = f'job_name="{family}",job_version="1.0.0"'
    assert f"pub_async_job_calls_started{{{labels}}} 1.0" in metrics
    assert f"pub_async_job_calls_done{{{labels}}} 1.0" in metrics
    # Starting is refused as a call is: no token, and a token without the permission.
    assert gateway.client.post(path, json={}).status_code == 401
    other = unique("other")
    apply(cluster, esc(ns, other))
    refused = gateway.call(path, issued_token(cluster, "esc", other, ns), a=1, b=2)
    assert refused.status_code == 403
