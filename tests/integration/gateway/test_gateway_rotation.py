"""An auth key rotation on the real control plane, seen through the gateway: every subject's
old token is refused and its new one accepted, by the HAProxy that was already running."""

from __future__ import annotations

import pytest
from gateway_helpers import (  # type: ignore[import-not-found]
    Stack,
    apply,
    esc,
    issued_token,
    job,
    permission,
    unique,
    until_status,
    user,
    user_token,
    wait_serving,
)

from integration.identity.identity_helpers import racetrack  # type: ignore[import-not-found]

pytestmark = pytest.mark.cluster


def test_a_key_rotation_swaps_every_callers_token_at_the_gateway_without_a_reload(
    own_stack: Stack,
) -> None:
    stack = own_stack
    ns, cluster, gateway = stack.namespace, stack.cluster, stack.gateway
    family, name, portal = unique("adder"), unique("user"), unique("portal")
    apply(
        cluster,
        job(ns, family, "1.0.0", stack.adder.address),
        user(name),
        esc(ns, portal),
        permission(ns, unique("p"), "User", name, family=family),
        permission(ns, unique("p"), "ExternalServiceConsumer", portal, family=family),
        permission(ns, unique("p"), "JobFamily", family, family=family),
    )
    wait_serving(cluster, ns, family, 1)
    subjects = {"rtuser": (name, None), "esc": (portal, ns), "rtfamily": (family, ns)}
    old = {
        "rtuser": user_token(stack, name),
        "esc": issued_token(cluster, "esc", portal, ns),
        "rtfamily": issued_token(cluster, "rtfamily", family, ns),
    }
    perform = f"/pub/job/{family}/latest/api/v1/perform"
    for token in old.values():
        until_status(lambda token=token: gateway.call(perform, token, a=40, b=2), 200)
    pid = gateway.haproxy_pid()

    done = racetrack("auth", "rotate-key", "-n", stack.platform, kubeconfig=cluster.kubeconfig)
    assert done.returncode == 0, done.stderr
    new = {
        kind: issued_token(cluster, kind, subject, namespace, other_than=old[kind])
        for kind, (subject, namespace) in subjects.items()
    }
    for kind in subjects:
        until_status(lambda kind=kind: gateway.call(perform, old[kind], a=40, b=2), 401)
        answer = until_status(lambda kind=kind: gateway.call(perform, new[kind], a=40, b=2), 200)
        assert answer.json() == 42
    assert gateway.haproxy_pid() == pid  # no reload, no restart
