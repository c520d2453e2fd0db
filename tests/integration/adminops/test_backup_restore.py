"""``racetrack backup`` from one real control plane and ``racetrack restore`` into a fresh one:
the operator started on the new cluster converges (the Job's Deployment, Permissions), keeps
every token issued before the backup valid (its hash is what the subject publishes), and the
gateway on the new cluster lets those tokens call the restored job."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gateway_harness import JobProcess  # type: ignore[import-not-found]
from integration.gateway.gateway_helpers import (  # type: ignore[import-not-found]
    Gateway,
    until_status,
    wait_serving,
)
from integration.identity.identity_helpers import (  # type: ignore[import-not-found]
    OperatorProcess,
    apply,
    auth_key,
    eventually,
    get,
    hashes,
    ready,
    secret_value,
    wait_token,
)
from racetrack_api import tokens as codec
from racetrack_cli import archive
from racetrack_devcluster import addons
from racetrack_devcluster.build import BinaryCache
from racetrack_devcluster.launcher import ClusterOptions, LocalCluster
from racetrack_devcluster.webhooks import DevWebhooks

REPO = Path(__file__).resolve().parents[3]
PUB_URL = "http://racetrack-gateway.racetrack-system.svc:7005/pub"
pytestmark = pytest.mark.cluster


@pytest.fixture(scope="module")
def fresh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    """A second control plane, empty but for the CRDs: where the backup is restored."""
    options = ClusterOptions(crds=addons.crds_folder(), namespaces=addons.NAMESPACES)
    with LocalCluster(BinaryCache().ensure(), tmp_path_factory.mktemp("fresh"), options) as running:
        yield running


@pytest.fixture
def names(cluster: LocalCluster) -> Iterator[dict[str, str]]:
    suffix = uuid.uuid4().hex[:8]
    made = {
        "ns": f"rt-backup-{suffix}",
        "platform": f"rt-platform-{suffix}",
        "user": f"alice-{suffix}",
    }
    for key in ("ns", "platform"):
        cluster.kubectl("create", "namespace", made[key])
    yield made
    cluster.kubectl("delete", "rtuser", made["user"], "--wait=false", check=False)
    for key in ("ns", "platform"):
        cluster.kubectl("delete", "namespace", made[key], "--wait=false", check=False)


def operator_for(target: LocalCluster, log_dir: Path, names: dict[str, str]) -> OperatorProcess:
    log_dir.mkdir(parents=True, exist_ok=True)
    return OperatorProcess(
        target.kubeconfig,
        log_dir,
        {
            "RACETRACK_NAMESPACES": names["ns"],
            "RACETRACK_PLATFORM_NAMESPACE": names["platform"],
            "RACETRACK_PUB_URL": PUB_URL,
            "RACETRACK_METRICS_PORT": "0",
            "RACETRACK_LIVENESS_ENDPOINT": "",
        },
    )


def racetrack(target: LocalCluster, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "racetrack_cli.main", *args, "--kubeconfig", str(target.kubeconfig)],
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO,
        timeout=300,
    )


ADDER = REPO / "examples" / "jobs" / "adder" / "entrypoint.py"


def adder_job(ns: str, runtime_secret: str | None = None, **metadata: Any) -> dict[str, Any]:
    job: dict[str, Any] = {
        "apiVersion": "racetrack.io/v1alpha1",
        "kind": "Job",
        "metadata": {"name": "adder-v1-0-0", "namespace": ns, **metadata},
        "spec": {
            "name": "adder",
            "version": "1.0.0",
            "ownerEmail": "ml@example.org",
            "jobtype": "python3:1.0.0",
            "image": "127.0.0.1:5000/racetrack/jobs/adder:1.0.0",
            "jobtypeExtra": {"entrypoint_path": "adder.py"},
        },
    }
    if runtime_secret is not None:
        job["spec"]["secretRuntimeEnv"] = {"name": runtime_secret}
    return job


def populate(cluster: LocalCluster, names: dict[str, str], upstream: str) -> None:
    ns = names["ns"]
    apply(
        cluster,
        {
            "apiVersion": "racetrack.io/v1alpha1",
            "kind": "User",
            "metadata": {"name": names["user"]},
            "spec": {"email": "alice@example.org", "active": True},
        },
    )
    documents: list[dict[str, Any]] = [
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "adder-env", "namespace": ns},
            "stringData": {"DB_PASSWORD": "s3cret"},
        },
        {
            "apiVersion": "racetrack.io/v1alpha1",
            "kind": "ExternalServiceConsumer",
            "metadata": {"name": "billing", "namespace": ns},
        },
        # The gateway sends calls to a job runtime running on this host.
        adder_job(ns, "adder-env", annotations={"racetrack.io/gateway-upstream": upstream}),
        {
            "apiVersion": "racetrack.io/v1alpha1",
            "kind": "Permission",
            "metadata": {"name": "billing-calls-adder", "namespace": ns},
            "spec": {
                "subject": {"kind": "ExternalServiceConsumer", "name": "billing"},
                "scope": "call_job",
                "resource": {"family": "adder"},
            },
        },
    ]
    for document in documents:
        apply(cluster, document)


def deployment_exists(target: LocalCluster, ns: str) -> bool:
    found = target.kubectl("get", "deployments", "-n", ns, "-o", "name", check=False)
    return found.returncode == 0 and bool(found.stdout.strip())


def test_a_backup_restored_into_a_fresh_cluster_converges_with_the_same_tokens(
    cluster: LocalCluster,
    fresh: LocalCluster,
    names: dict[str, str],
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    ns, platform, user = names["ns"], names["platform"], names["user"]
    adder = JobProcess(ADDER, tmp_path, name="adder")
    request.addfinalizer(adder.stop)
    source_operator = operator_for(cluster, tmp_path / "source", names)
    source_operator.start()
    try:
        populate(cluster, names, adder.address)
        user_token = wait_token(cluster, "rtuser", user)
        esc_token = wait_token(cluster, "esc", "billing", ns)
        family_token = wait_token(cluster, "rtfamily", "adder", ns)
        eventually(lambda: deployment_exists(cluster, ns), 60, "the source runs the Job")
        key = auth_key(cluster, platform)
    finally:
        source_operator.stop()
    passphrase = tmp_path / "passphrase"
    passphrase.write_text("correct horse battery staple\n")
    archive = tmp_path / "cluster.rtbackup"

    made = racetrack(
        cluster, "backup", str(archive), "--passphrase-file", str(passphrase),
        "--platform-namespace", platform,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert made.stdout.startswith("Backed up ") and str(archive) in made.stdout
    assert archive.stat().st_mode & 0o777 == 0o600
    raw = archive.read_bytes()
    for secret in (user_token, esc_token, key, "s3cret"):
        assert secret.encode() not in raw and base64.b64encode(secret.encode()) not in raw
    # Refuses to overwrite without --force.
    again = racetrack(cluster, "backup", str(archive), "--passphrase-file", str(passphrase))
    assert again.returncode == 1 and "give --force" in again.stderr

    # A wrong passphrase or a truncated file: a clear error, and nothing is written.
    wrong = tmp_path / "wrong"
    wrong.write_text("another passphrase\n")
    refused = racetrack(fresh, "restore", str(archive), "--passphrase-file", str(wrong))
    assert refused.returncode == 1
    assert "wrong passphrase" in refused.stderr and "nothing was restored" in refused.stderr
    cut = tmp_path / "cut.rtbackup"
    cut.write_bytes(raw[: len(raw) // 2])
    truncated = racetrack(fresh, "restore", str(cut), "--passphrase-file", str(passphrase))
    assert truncated.returncode == 1 and "truncated" in truncated.stderr, truncated.stderr
    assert get(fresh, "rtuser", user) is None
    assert get(fresh, "namespace", ns) is None

    # A dry run says what it would do and does nothing.
    dry = racetrack(
        fresh, "restore", str(archive), "--passphrase-file", str(passphrase), "--dry-run"
    )
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.startswith("Would restore ") and ns in dry.stdout
    assert get(fresh, "namespace", ns) is None

    restored = racetrack(fresh, "restore", str(archive), "--passphrase-file", str(passphrase))
    assert restored.returncode == 0, restored.stderr
    lines = restored.stdout.splitlines()
    order = [line.removeprefix("restored ") for line in lines if line.startswith("restored ")]
    assert order.index(f"Secret {platform}/racetrack-auth-key") < order.index(f"User {user}")
    assert order.index(f"User {user}") < order.index(f"Secret {platform}/user-{user}-token")
    assert f"Secret {ns}/adder-env" in order and f"Job {ns}/adder-v1-0-0" in order

    # The restored token Secrets belong to the restored subjects (new uids), so the garbage
    # collector keeps them and the operator keeps their tokens.
    fresh_user = get(fresh, "rtuser", user)
    token_secret = get(fresh, "secret", f"user-{user}-token", platform)
    assert token_secret["metadata"]["ownerReferences"][0]["uid"] == fresh_user["metadata"]["uid"]
    assert secret_value(fresh, ns, "adder-env", "DB_PASSWORD") == "s3cret"
    assert auth_key(fresh, platform) == key

    target_operator = operator_for(fresh, tmp_path / "target", names)
    target_operator.start()
    try:
        eventually(lambda: deployment_exists(fresh, ns), 90, "the restored Job is deployed")
        for kind, name, namespace, token in (
            ("rtuser", user, None, user_token),
            ("esc", "billing", ns, esc_token),
            ("rtfamily", "adder", ns, family_token),
        ):
            eventually(
                lambda k=kind, n=name, s=namespace, t=token: (
                    codec.token_hash(t) in hashes(fresh, k, n, s)
                ),
                90,
                f"{kind} {name} publishes the token issued before the backup",
            )
        eventually(
            lambda: ready(fresh, "rtperm", "billing-calls-adder", ns) == "True/SubjectFound",
            60,
            "the restored Permission finds its subject",
        )
        # Not re-issued: the Secret still holds the old token.
        assert secret_value(fresh, platform, f"user-{user}-token", "token") == user_token

        # The tokens issued before the backup call the restored job through the gateway: the
        # User by its restored default Permissions (platform namespace), the ESC by its own.
        wait_serving(fresh, ns, "adder", 1)
        gateway = Gateway(fresh.kubeconfig, ns, platform, tmp_path)
        request.addfinalizer(gateway.stop)
        gateway.start()
        perform = "/pub/job/adder/latest/api/v1/perform"
        for token in (user_token, esc_token):
            answer = until_status(lambda t=token: gateway.call(perform, t, a=40, b=2), 200)
            assert answer.json() == 42
        assert gateway.call(perform, "not-a-token", a=1, b=2).status_code == 401

        # Restoring again: everything is there with the same content, nothing is written.
        repeat = racetrack(fresh, "restore", str(archive), "--passphrase-file", str(passphrase))
        assert repeat.returncode == 0, repeat.stderr
        assert "Restored 0 objects" in repeat.stdout

        # A conflicting object refuses the whole restore before anything is written.
        fresh.kubectl(
            "patch", "rtjob", "adder-v1-0-0", "-n", ns, "--type=merge",
            "-p", json.dumps({"spec": {"replicas": 3}}),
        )  # fmt: skip
        fresh.kubectl("delete", "esc", "billing", "-n", ns)
        conflict = racetrack(fresh, "restore", str(archive), "--passphrase-file", str(passphrase))
        assert conflict.returncode == 1
        assert f"Job {ns}/adder-v1-0-0" in conflict.stderr
        assert "Nothing was restored" in conflict.stderr
        assert get(fresh, "esc", "billing", ns) is None
    finally:
        target_operator.stop()


def test_a_restore_that_fails_midway_says_what_was_and_was_not_restored(
    fresh: LocalCluster, tmp_path: Path
) -> None:
    ns = f"rt-partial-{uuid.uuid4().hex[:8]}"
    fresh.kubectl("create", "namespace", ns)
    # The namespace admits one Secret: the second one the restore creates is refused.
    fresh.kubectl("create", "quota", "one-secret", "-n", ns, "--hard=count/secrets=1")
    eventually(
        lambda: (get(fresh, "resourcequota", "one-secret", ns).get("status") or {}).get("used"),
        60,
        "the quota controller counts the namespace's Secrets",
    )

    def secret(name: str) -> dict[str, Any]:
        return {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": name, "namespace": ns, "uid": f"old-{name}"},
            "type": "Opaque",
            "data": {"k": base64.b64encode(name.encode()).decode()},
        }

    job = adder_job(ns, uid="old-job")
    document = {
        "kind": archive.DOCUMENT_KIND,
        "version": 1,
        "objects": [job, secret("a-env"), secret("b-env")],
    }
    path = tmp_path / "partial.rtbackup"
    path.write_bytes(archive.seal(document, "pass phrase"))
    passphrase = tmp_path / "passphrase"
    passphrase.write_text("pass phrase\n")

    failed = racetrack(fresh, "restore", str(path), "--passphrase-file", str(passphrase))
    assert failed.returncode == 1
    assert f"restoring Secret {ns}/b-env failed" in failed.stderr, failed.stderr
    assert "exceeded quota: one-secret" in failed.stderr and '"kind":"Status"' not in failed.stderr
    assert f"Restored (1): Secret {ns}/a-env." in failed.stderr
    assert f"NOT restored (2): Secret {ns}/b-env, Job {ns}/adder-v1-0-0." in failed.stderr
    assert get(fresh, "secret", "b-env", ns) is None
    assert get(fresh, "rtjob", "adder-v1-0-0", ns) is None

    # Once the cause is fixed, running it again finishes the job.
    fresh.kubectl("delete", "quota", "one-secret", "-n", ns)
    finished = racetrack(fresh, "restore", str(path), "--passphrase-file", str(passphrase))
    assert finished.returncode == 0, finished.stderr
    assert "Restored 2 objects; 1 already present with the same content" in finished.stdout
    assert get(fresh, "rtjob", "adder-v1-0-0", ns) is not None
    fresh.kubectl("delete", "namespace", ns, "--wait=false")


def test_a_restore_through_the_admission_webhooks_with_an_active_maintenance(
    fresh: LocalCluster, tmp_path: Path
) -> None:
    """Where the webhooks run, an active Maintenance refuses Job changes: it is restored
    after the Jobs, and the webhooks record the restore as the restoring admin's change."""
    ns = f"rt-webhooks-{uuid.uuid4().hex[:8]}"
    maintenance = f"upgrade-{ns[-8:]}"
    recorded = '{"actions":["job_deployed"],"at":"2026-01-01T00:00:00Z","by":"bob"}'
    job = adder_job(ns, uid="old-job", annotations={"racetrack.io/last-change": recorded})
    document = {
        "kind": archive.DOCUMENT_KIND,
        "version": 1,
        "objects": [
            {
                "apiVersion": "racetrack.io/v1alpha1",
                "kind": "Maintenance",
                "metadata": {"name": maintenance, "uid": "old-maintenance"},
                "spec": {"active": True, "message": "upgrading the cluster"},
            },
            job,
            {
                "apiVersion": "racetrack.io/v1alpha1",
                "kind": "AuditEvent",
                "metadata": {"name": "deployed-adder", "namespace": ns, "uid": "old-event"},
                "spec": {
                    "action": "job_deployed",
                    "actor": "bob",
                    "time": "2026-01-01T00:00:00Z",
                    "kind": "Job",
                    "name": "adder-v1-0-0",
                    "namespace": ns,
                    "family": "adder",
                    "version": "1.0.0",
                },
            },
        ],
    }
    path = tmp_path / "maintenance.rtbackup"
    path.write_bytes(archive.seal(document, "pass phrase"))
    passphrase = tmp_path / "passphrase"
    passphrase.write_text("pass phrase\n")
    webhooks = DevWebhooks(fresh, tmp_path / "webhooks")
    webhooks.prepare()
    webhooks.start()
    webhooks.register()
    try:
        webhooks.wait_registered()
        restored = racetrack(fresh, "restore", str(path), "--passphrase-file", str(passphrase))
        assert restored.returncode == 0, restored.stderr
        order = [line for line in restored.stdout.splitlines() if line.startswith("restored ")]
        assert order[-1] == f"restored Maintenance {maintenance}"
        restored_job = get(fresh, "rtjob", "adder-v1-0-0", ns)
        change = restored_job["metadata"]["annotations"]["racetrack.io/last-change"]
        stamp = json.loads(change)
        assert stamp["by"] != "bob" and stamp["actions"] == ["job_deployed"]
        assert get(fresh, "auditevent", "deployed-adder", ns)["spec"]["actor"] == "bob"
        # The Maintenance is in force: a change to the restored Job is refused now.
        refused = fresh.kubectl(
            "patch", "rtjob", "adder-v1-0-0", "-n", ns, "--type=merge",
            "-p", json.dumps({"spec": {"replicas": 2}}), check=False,
        )  # fmt: skip
        assert refused.returncode != 0 and "upgrading the cluster" in refused.stderr
    finally:
        fresh.kubectl("delete", "maintenance", maintenance, check=False)
        webhooks.unregister()
        webhooks.stop()
        fresh.kubectl("delete", "namespace", ns, "--wait=false", check=False)
