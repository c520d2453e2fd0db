"""The gateway on the real control plane: the agent (and its HAProxy) as real processes,
the operator beside it, job runtimes as host processes the Jobs point at, and a relay that
can cut the agent off from the API server."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime
import json
import os
import shutil
import signal
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import yaml

from gateway_harness import (  # type: ignore[import-not-found]
    REPO,
    Echo,
    JobProcess,
    free_port,
    short_dir,
)
from integration.identity.identity_helpers import wait_token  # type: ignore[import-not-found]
from racetrack_api import labels, tokens
from racetrack_devcluster.launcher import LocalCluster
from racetrack_gateway.haproxy.runtime import Runtime, RuntimeApiError
from support import eventually  # type: ignore[import-not-found]

KEY = tokens.new_auth_key()
ADDER = REPO / "examples" / "jobs" / "adder" / "entrypoint.py"


class Process:
    """A Python module run as a process, restartable and killable, logs kept per start."""

    def __init__(self, name: str, module: str, env: dict[str, str], log_dir: Path) -> None:
        self.name, self.module, self.env, self.log_dir = name, module, env, log_dir
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        self.starts += 1
        with (self.log_dir / f"{self.name}-{self.starts}.log").open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", self.module],
                env={**os.environ, **self.env},
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=REPO,
            )

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=30)

    def logs(self) -> str:
        return "\n".join(
            p.read_text(errors="replace") for p in sorted(self.log_dir.glob(f"{self.name}-*.log"))
        )


class Gateway:
    """The agent with its HAProxy, watching one namespace, honouring upstream overrides."""

    def __init__(
        self, kubeconfig: Path, namespace: str, platform: str, log_dir: Path, **extra: str
    ) -> None:
        self.port = free_port()
        self.agent_port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.run_dir = short_dir("rtgw-")
        self.haproxy_log = log_dir / "haproxy.log"
        env = {
            "KUBECONFIG": str(kubeconfig),
            "RACETRACK_GATEWAY_BIND": f"127.0.0.1:{self.port}",
            "RACETRACK_GATEWAY_RUN_DIR": str(self.run_dir),
            "RACETRACK_GATEWAY_HTTP_HOST": "127.0.0.1",
            "RACETRACK_GATEWAY_HTTP_PORT": str(self.agent_port),
            "RACETRACK_GATEWAY_HAPROXY_LOG": str(self.haproxy_log),
            "RACETRACK_GATEWAY_ALLOW_UPSTREAM_OVERRIDE": "true",
            "RACETRACK_GATEWAY_NAMESPACES": namespace,
            "RACETRACK_GATEWAY_PLATFORM_NAMESPACE": platform,
            "RACETRACK_GATEWAY_STATS_SECONDS": "1",
            "RACETRACK_GATEWAY_LAST_CALL_SECONDS": "2",
            **extra,
        }
        self.agent = Process("gateway-agent", "racetrack_gateway", env, log_dir)
        self.client = httpx.Client(base_url=self.url, timeout=30)
        self.runtime = Runtime(self.run_dir / "haproxy.sock")

    def start(self, wait: bool = True) -> None:
        self.agent.start()
        if wait:
            self.wait_ready()

    def wait_ready(self) -> None:
        def ready() -> bool:
            assert self.agent.process is not None
            assert self.agent.process.poll() is None, self.agent.logs()[-3000:]
            with contextlib.suppress(httpx.TransportError):
                return httpx.get(f"{self.url}/ready", timeout=2).status_code == 200
            return False

        eventually(ready, 60, "the gateway to be ready")

    def agent_ready(self) -> int:
        with contextlib.suppress(httpx.TransportError):
            return httpx.get(f"http://127.0.0.1:{self.agent_port}/ready", timeout=2).status_code
        return 0

    def haproxy_pid(self) -> int:
        info = asyncio.run(self.runtime.info())
        return int(info["Pid"])

    def call(self, path: str, token: str | None = None, **body: Any) -> httpx.Response:
        headers = {"X-Racetrack-Auth": token} if token is not None else {}
        response: httpx.Response = self.client.post(path, json=body, headers=headers)
        return response

    def stop(self) -> None:
        self.client.close()
        self.agent.stop()
        with contextlib.suppress(OSError, ValueError, KeyError, RuntimeApiError):
            os.kill(self.haproxy_pid(), signal.SIGTERM)  # left by a killed agent
        shutil.rmtree(self.run_dir, ignore_errors=True)


def apply(cluster: LocalCluster, *objects: dict[str, Any]) -> None:
    cluster.kubectl("apply", "-f", "-", input="\n---\n".join(yaml.safe_dump(o) for o in objects))


def job(
    namespace: str, family: str, version: str, upstream: str | None, **spec: Any
) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "name": f"{family}-v{version.replace('.', '-')}",
        "namespace": namespace,
    }
    if upstream is not None:
        meta["annotations"] = {"racetrack.io/gateway-upstream": upstream}
    return {
        "apiVersion": "racetrack.io/v1alpha1",
        "kind": "Job",
        "metadata": meta,
        "spec": {
            "name": family,
            "version": version,
            "ownerEmail": "owner@example.com",
            "jobtype": "python3:1.0.0",
            "image": "registry.example.org/adder:1.0.0",
            "jobtypeExtra": {"entrypoint_path": "entrypoint.py"},
            **spec,
        },
    }


def permission(
    namespace: str,
    name: str,
    kind: str,
    subject: str,
    subject_namespace: str | None = None,
    **resource: str,
) -> dict[str, Any]:
    who = {"kind": kind, "name": subject}
    if subject_namespace is not None:
        who["namespace"] = subject_namespace
    return {
        "apiVersion": "racetrack.io/v1alpha1",
        "kind": "Permission",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"subject": who, "scope": "call_job", "resource": resource},
    }


def user(name: str, active: bool = True) -> dict[str, Any]:
    return {
        "apiVersion": "racetrack.io/v1alpha1",
        "kind": "User",
        "metadata": {"name": name},
        "spec": {"active": active},
    }


def esc(namespace: str, name: str) -> dict[str, Any]:
    return {
        "apiVersion": "racetrack.io/v1alpha1",
        "kind": "ExternalServiceConsumer",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {},
    }


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def publish_token(cluster: LocalCluster, family: str, namespace: str) -> str:
    """For a family in a namespace no operator watches: issue a token and publish its hash
    as the operator would."""
    token = tokens.issue(family, "job_family", KEY)
    patch = {
        "status": {"token": {"secretName": f"{family}-token", "hashes": [tokens.token_hash(token)]}}
    }
    cluster.kubectl(
        "patch", "rtfamily", family, "-n", namespace, "--subresource=status", "--type=merge",
        "-p", json.dumps(patch),
    )  # fmt: skip
    return token


def issued_token(
    cluster: LocalCluster,
    resource: str,
    name: str,
    namespace: str | None = None,
    other_than: str | None = None,
) -> str:
    """The token the operator issued (read from its Secret, as ``racetrack token`` does), once
    the subject publishes its hash; ``other_than``: wait for a new one (after a reset)."""
    token: str = wait_token(cluster, resource, name, namespace, other_than)
    return token


def user_token(stack: Stack, name: str) -> str:
    """An active User's token, with the User's default grant to call every job withdrawn (an
    admin may delete it, and it does not come back), so only this test's Permissions count."""
    default_call = f"user-{name}-call-job"
    eventually(
        lambda: stack.cluster.kubectl(
            "get", "rtperm", default_call, "-n", stack.platform, check=False
        ).returncode == 0,
        60,
        f"the default grants of {name}",
    )  # fmt: skip
    stack.cluster.kubectl("delete", "rtperm", default_call, "-n", stack.platform)
    return issued_token(stack.cluster, "rtuser", name)


def reset_token(
    cluster: LocalCluster, resource: str, name: str, old: str, namespace: str | None = None
) -> str:
    """Ask the operator for a new token (the original's "change password") and wait for it."""
    where = ["-n", namespace] if namespace else []
    cluster.kubectl(
        "annotate", resource, name, *where, "--overwrite",
        f"{labels.ANNOTATION_RESET_TOKEN_AT}={datetime.datetime.now(datetime.UTC).isoformat()}",
    )  # fmt: skip
    return issued_token(cluster, resource, name, namespace, other_than=old)


def status_of(cluster: LocalCluster, resource: str, name: str, namespace: str) -> dict[str, Any]:
    """The object's status; empty while the object does not exist (yet)."""
    found = cluster.kubectl("get", resource, name, "-n", namespace, "-o", "json", check=False)
    if found.returncode != 0:
        return {}
    status: dict[str, Any] = json.loads(found.stdout).get("status") or {}
    return status


def wait_serving(cluster: LocalCluster, namespace: str, family: str, versions: int) -> None:
    def ready() -> bool:
        listed = status_of(cluster, "rtfamily", family, namespace).get("versions") or []
        return len([v for v in listed if v.get("ready")]) >= versions

    eventually(ready, 60, f"{versions} serving version(s) of {family}")


def until_status(
    call: Callable[[], httpx.Response], status: int, timeout: float = 30
) -> httpx.Response:
    """Call until the answer has ``status`` (changes travel through watches and pushes)."""
    seen: list[int] = []

    def answered() -> httpx.Response | None:
        try:
            response = call()
        except httpx.TransportError:  # HAProxy being restarted, say
            seen.append(0)
            return None
        seen.append(response.status_code)
        return response if response.status_code == status else None

    result: httpx.Response = eventually(
        answered, timeout, f"status {status} (seen {seen[-5:]})", 0.05
    )
    return result


@dataclasses.dataclass
class Stack:
    cluster: LocalCluster
    namespace: str
    callers_namespace: str
    """Also watched by the gateway, not by the operator: callers from another namespace."""
    platform: str
    """The platform namespace of this stack's operator and gateway: the auth key, the Users'
    token Secrets and their default grants (which count in every namespace)."""
    operator: Process
    gateway: Gateway
    adder: JobProcess
    echo: Echo
    log_dir: Path


def operator_for(cluster: LocalCluster, namespace: str, platform: str, log_dir: Path) -> Process:
    return Process(
        "operator",
        "racetrack_operator",
        {
            "KUBECONFIG": str(cluster.kubeconfig),
            "RACETRACK_NAMESPACES": namespace,
            "RACETRACK_PLATFORM_NAMESPACE": platform,
            "RACETRACK_METRICS_PORT": "0",
            "RACETRACK_LIVENESS_ENDPOINT": "",
            "RACETRACK_STALLED_RETRY_SECONDS": "2",
            "RACETRACK_FAMILY_SYNC_SECONDS": "0.2",
        },
        log_dir,
    )
