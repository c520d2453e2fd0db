"""What the gateway's agent and the admission webhooks cost at a large installation's size.

Run: ``python bench/platform_scale.py [--jobs 5000] [--users 1000] [--admissions 50]``

A fresh local control plane (simulated nodes) is seeded as ``gateway_propagation.py`` seeds
it: ``--jobs`` job versions (Job, JobFamily status, Service) and ``--users`` Users with a
token and ten grants each. Both components then start on it as ``racetrack dev up`` runs
them, and every figure is printed next to a baseline measured in the same run:

- the agent: from its start until it is ready (every kind listed, the tables rendered,
  HAProxy started from them), against the same lists made at once by a plain client and
  decoded (what any process that watches those kinds pays before it can start);
- a full resync: the agent is killed while HAProxy keeps serving; the healer's new agent lists
  everything again, adopts that HAProxy and replaces every table and server in it: its time
  until ready, against the same lists, and the full sync's own duration from its log;
- the agent's and HAProxy's resident memory once ready, against the size of the JSON the
  agent lists (every object it watches as the API server sends it);
- the webhooks: from their start until ready (their informers hold every racetrack.io
  object), their resident memory against the JSON of those objects, and what they add to an
  admission: ``--admissions`` server-side dry-run creates of a Job, one at a time, p50 and p95,
  against the same creates just before the webhooks were registered.

The machine's load average is printed at the start and the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import statistics
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from gateway_propagation import NS, seeded_cluster
from racetrack_api.v1alpha1 import (
    AuditEvent,
    ExternalServiceConsumer,
    Job,
    JobFamily,
    Maintenance,
    Permission,
    User,
)
from racetrack_devcluster import chaos, gateway, webhooks
from racetrack_kube import paths
from racetrack_kube.client import Kube

API = "racetrack.io/v1alpha1"
SYNCED = re.compile(r"Synced HAProxy's tables in full \((.*?)\) in (\d+) ms")


def memory_mib(pid: int) -> tuple[float, float]:
    """Resident memory now and at its peak (VmRSS, VmHWM), MiB."""
    fields = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
    )
    return tuple(int(fields[name].split()[0]) / 1024 for name in ("VmRSS", "VmHWM"))  # type: ignore[return-value]


async def list_all(kube: Kube, collections: list[tuple[str, str | None]]) -> tuple[float, int]:
    """Every collection listed at once and decoded: seconds, and the JSON's bytes."""
    started = time.monotonic()
    bodies = await asyncio.gather(
        *(
            kube.request("GET", path, query=[("labelSelector", selector)] if selector else None)
            for path, selector in collections
        )
    )
    spent = time.monotonic() - started
    return spent, sum(len(json.dumps(body)) for body in bodies)


def agent_collections() -> list[tuple[str, str | None]]:
    """What the agent watches, all namespaces (its informers' lists)."""
    kinds = (User, Maintenance, ExternalServiceConsumer, JobFamily, Job, Permission)
    services = ("/api/v1/services", "app.kubernetes.io/managed-by=racetrack-operator")
    return [(paths.racetrack(kind), None) for kind in kinds] + [services]


def webhook_collections() -> list[tuple[str, str | None]]:
    kinds = (User, Maintenance, ExternalServiceConsumer, JobFamily, Job, Permission, AuditEvent)
    return [(paths.racetrack(kind), None) for kind in kinds]


def http_ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as answer:
            return bool(answer.status == 200)
    except OSError:
        return False


def wait(what: str, check: Any, timeout: float = 300) -> float:
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > timeout:
            raise RuntimeError(f"{what}: not within {timeout:.0f} s")
        time.sleep(0.05)
    return time.monotonic() - started


def admission_times(kube: Kube, count: int) -> list[float]:
    """``count`` server-side dry-run creates of a new version of a seeded family, seconds."""

    async def run() -> list[float]:
        spent = []
        for i in range(count):
            body = {
                "apiVersion": API,
                "kind": "Job",
                "metadata": {"name": f"fam-0001-v9-0-{i}"},
                "spec": {
                    "name": "fam-0001",
                    "version": f"9.0.{i}",
                    "ownerEmail": "o@example.com",
                    "jobtype": "python3:1.0.0",
                    "image": "x/y:1",
                    "jobtypeExtra": {"entrypoint_path": "e.py"},
                },
            }
            started = time.monotonic()
            await kube.request("POST", paths.racetrack(Job, NS), body, query=[("dryRun", "All")])
            spent.append(time.monotonic() - started)
        return spent

    return asyncio.run(run())


def _p(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def _ms(ours: list[float], baseline: list[float], share: float) -> tuple[float, float]:
    return 1e3 * _p(ours, share), 1e3 * _p(baseline, share)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=5000)
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--admissions", type=int, default=50)
    args = parser.parse_args()
    print(f"Started with load {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    with seeded_cluster(args.jobs, args.users, heal=True) as (cluster, kube):
        lists, listed_bytes = asyncio.run(list_all(kube, agent_collections()))

        started = time.monotonic()
        gateway.start(cluster, upstream_override=True)
        agent_start = time.monotonic() - started
        agent = gateway.agent(cluster)
        assert agent.pid is not None and agent.env is not None
        agent_memory = memory_mib(agent.pid)
        haproxy = gateway.haproxy_pid(cluster)
        haproxy_memory = memory_mib(haproxy) if haproxy else (float("nan"),) * 2

        ready_url = f"http://127.0.0.1:{agent.env['RACETRACK_GATEWAY_HTTP_PORT']}/ready"
        killed = chaos.kill(cluster, gateway.COMPONENT)
        chaos.wait_back(cluster, killed)
        wait("the restarted agent to be ready", lambda: http_ready(ready_url))
        resync = time.monotonic() - killed.at
        synced = SYNCED.findall(agent.log_path.read_text())
        lists_again, _ = asyncio.run(list_all(kube, agent_collections()))
        restarted = gateway.agent(cluster)
        assert restarted.pid is not None
        restarted_memory = memory_mib(restarted.pid)

        before = admission_times(kube, args.admissions)
        webhook_lists, webhook_bytes = asyncio.run(list_all(kube, webhook_collections()))
        started = time.monotonic()
        hooks = webhooks.start(cluster)
        webhooks_start = time.monotonic() - started
        assert hooks.component is not None and hooks.component.pid is not None
        webhooks_memory = memory_mib(hooks.component.pid)
        after = admission_times(kube, args.admissions)

    mib = 1 << 20
    print(f"{'':<46} {'ours':>10} {'baseline':>10} {'ratio':>7}")
    rows = [
        ("agent start until ready (s) / the lists", agent_start, lists),
        ("agent killed until the new one is ready (s)", resync, lists_again),
        ("agent memory (MiB, rss) / JSON listed", agent_memory[0], listed_bytes / mib),
        ("  after its restart's full sync (MiB)", restarted_memory[0], listed_bytes / mib),
        ("webhooks start until ready (s) / their lists", webhooks_start, webhook_lists),
        ("webhooks memory (MiB, rss) / JSON listed", webhooks_memory[0], webhook_bytes / mib),
        ("admission p50 (ms): with webhooks / without", *_ms(after, before, 0.5)),
        ("admission p95 (ms): with webhooks / without", *_ms(after, before, 0.95)),
    ]  # fmt: skip
    for name, ours, baseline in rows:
        print(f"{name:<46} {ours:>10.2f} {baseline:>10.2f} {ours / baseline:>7.2f}")
    print(f"\nHAProxy's memory (rss, peak): {haproxy_memory[0]:.1f}, {haproxy_memory[1]:.1f} MiB")
    print(f"agent's peak before the restart: {agent_memory[1]:.1f} MiB")
    if synced:
        tables, ms = synced[-1]
        print(f"the restarted agent's full sync: {ms} ms ({tables})")
    else:
        print("the restarted agent logged no full sync")
    print(f"admission without webhooks: mean {1e3 * statistics.mean(before):.1f} ms")
    print(f"Ended with load {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
