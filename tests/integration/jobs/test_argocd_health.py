"""The Argo CD health check we ship (manifests/argocd) reads real Jobs as Argo CD would.

The script is taken from the ConfigMap patch users apply and run in gopher-lua, the Lua VM
Argo CD embeds, with Argo CD's libraries and calling convention (tests/tools/argocd_health),
against Jobs the operator really wrote status for.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from rtjob_helpers import REPO, OperatorProcess  # type: ignore[import-not-found]

from racetrack_devcluster.build import default_cache_dir, find_go
from racetrack_devcluster.launcher import LocalCluster
from support import eventually  # type: ignore[import-not-found]

pytestmark = pytest.mark.cluster

PATCH = REPO / "manifests" / "argocd" / "argocd-cm-patch.yaml"
HEALTH_KEY = "resource.customizations.health.racetrack.io_Job"
RUNNER = REPO / "tests" / "tools" / "argocd_health"
ADDER = REPO / "examples" / "adder.yaml"

Health = Callable[[dict[str, Any]], dict[str, str]]


def runner_binary() -> Path:
    """The runner, built once per source version into the project's binary cache."""
    sources = b"".join((RUNNER / name).read_bytes() for name in ("go.mod", "go.sum", "main.go"))
    binary = (
        default_cache_dir() / "bin" / f"argocd-health-{hashlib.sha256(sources).hexdigest()[:12]}"
    )
    if not binary.is_file():
        binary.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=binary.parent) as staging:
            built = Path(staging) / "argocd-health"
            env = {**os.environ, "CGO_ENABLED": "0", "GOFLAGS": "-buildvcs=false"}
            subprocess.run(
                [find_go(), "build", "-trimpath", "-o", str(built), "."],
                cwd=RUNNER, env=env, check=True,
            )  # fmt: skip
            built.rename(binary)
    return binary


@pytest.fixture(scope="session")
def argocd_health(tmp_path_factory: pytest.TempPathFactory) -> Health:
    script = tmp_path_factory.mktemp("argocd") / "health.lua"
    script.write_text(yaml.safe_load(PATCH.read_text())["data"][HEALTH_KEY])
    binary = runner_binary()

    def health(obj: dict[str, Any]) -> dict[str, str]:
        out = subprocess.run(
            [str(binary), str(script)], input=json.dumps(obj), capture_output=True, text=True
        )
        assert out.returncode == 0, out.stderr
        result: dict[str, str] = json.loads(out.stdout)
        return result

    return health


def wait_health(
    health: Health, cluster: LocalCluster, namespace: str, name: str, status: str
) -> dict[str, Any]:
    """The live Job once Argo CD's check gives it ``status``."""

    def check() -> dict[str, Any] | None:
        out = cluster.kubectl("get", "rtjob", name, "-n", namespace, "-o", "json").stdout
        live: dict[str, Any] = json.loads(out)
        return live if health(live)["status"] == status else None

    found: dict[str, Any] = eventually(check, 90, f"Argo CD health of {name}: {status}")
    return found


def test_the_patch_is_an_argocd_cm_health_customization() -> None:
    patch = yaml.safe_load(PATCH.read_text())
    assert (patch["kind"], patch["metadata"]["name"]) == ("ConfigMap", "argocd-cm")
    assert list(patch["data"]) == [HEALTH_KEY]  # Argo CD's key: <group>_<kind>


def test_argocd_health_follows_the_job(
    crds: LocalCluster, namespace: str, operator_process: OperatorProcess, argocd_health: Health
) -> None:
    manifest = yaml.safe_load(ADDER.read_text())
    # Applied but not yet seen by the operator: never Healthy before it is.
    assert argocd_health({**manifest, "metadata": {"name": "x", "generation": 1}}) == {
        "status": "Progressing",
        "message": "Waiting for the racetrack operator to pick up this Job",
    }

    crds.kubectl("apply", "-n", namespace, "-f", str(ADDER))
    url = f"http://adder-v1-0-0.{namespace}.svc.cluster.local:7000"
    ready = wait_health(argocd_health, crds, namespace, "adder-v1-0-0", "Healthy")
    assert argocd_health(ready) == {"status": "Healthy", "message": f"Job is ready at {url}."}

    edited = copy.deepcopy(ready)
    edited["metadata"]["generation"] += 1  # an edit the operator has not reconciled yet
    assert argocd_health(edited)["status"] == "Progressing"
    rolling = copy.deepcopy(ready)
    for cond in rolling["status"]["conditions"]:
        if cond["type"] == "Ready":
            cond.update(status="False", reason="RolloutInProgress", message="1 of 2 updated.")
    assert argocd_health(rolling) == {"status": "Progressing", "message": "1 of 2 updated."}

    manifest["spec"]["jobtype"] = "cobol:9.9.9"
    crds.kubectl("apply", "-n", namespace, "-f", "-", input=yaml.safe_dump(manifest))
    stalled = wait_health(argocd_health, crds, namespace, "adder-v1-0-0", "Degraded")
    message = argocd_health(stalled)["message"]
    assert message.startswith("UnknownJobType: ") and "python3:1.0.0" in message  # what to fix
