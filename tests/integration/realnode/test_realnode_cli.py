"""The everyday loop on a real node, as a Racetrack user runs it: ``racetrack deploy`` of an
example job folder built from the folder itself, ``call`` through the gateway (publicly and
with a caller token), ``logs`` of the job and of its build, ``list``, ``delete``."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import random
import signal
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from build_helpers import handle  # type: ignore[import-not-found]
from realnode_helpers import eventually  # type: ignore[import-not-found]

from racetrack_api.version import __version__ as PLATFORM_VERSION
from racetrack_devcluster.launcher import LocalCluster
from racetrack_images.registry import Reference, Registry

pytestmark = [pytest.mark.cluster, pytest.mark.realnode]

REPO = Path(__file__).resolve().parents[3]
ADDER = REPO / "examples" / "jobs" / "adder"
NAMESPACE = "cli-loop"


def racetrack(
    cluster: LocalCluster, *args: str, token: str = ""
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KUBECONFIG": str(cluster.kubeconfig), "RACETRACK_AUTH_TOKEN": token}
    env.pop("RACETRACK_GATEWAY", None)
    return subprocess.run(
        [sys.executable, "-m", "racetrack_cli.main", *args],
        env=env, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip


class Followed:
    """A ``racetrack`` command left running, its stdout's lines collected as they come."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process
        self.lines: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)


def follow_logs(cluster: LocalCluster, *args: str) -> Followed:
    env = {**os.environ, "KUBECONFIG": str(cluster.kubeconfig)}
    process = subprocess.Popen(
        [sys.executable, "-m", "racetrack_cli.main", *args],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    return Followed(process)


def first_call(cluster: LocalCluster, *args: str) -> subprocess.CompletedProcess[str]:
    """``racetrack call`` once the gateway knows the version: it learns of a Job that turned
    Ready within moments, and answers 404 (no such version) or 503 (not serving yet) until
    then."""

    def served() -> subprocess.CompletedProcess[str] | None:
        called = racetrack(cluster, "call", *args)
        unknown = "HTTP 404" in called.stderr or "not serving yet" in called.stderr
        return None if unknown else called

    answered: subprocess.CompletedProcess[str] = eventually(served)
    return answered


def test_deploy_a_folder_call_it_read_its_logs_and_delete_it(
    operator_cluster: LocalCluster, gateway_url: str
) -> None:
    cluster = operator_cluster
    registry = handle(cluster).registry_host
    cluster.kubectl("create", "namespace", NAMESPACE)
    deployed = racetrack(
        cluster, "deploy", str(ADDER), "-n", NAMESPACE, "--build-context", "local",
        "--registry", registry, "--gateway", gateway_url,
        # Its own name (other tests deploy adder), and perform open to callers without a token.
        "-e", "name=cli-adder", "-e", "public_endpoints=[/api/v1/perform]",
    )  # fmt: skip
    assert deployed.returncode == 0, deployed.stderr
    assert "  building" in deployed.stderr and "  ready" in deployed.stderr
    # The folder goes to the registry under the name it deploys as (after -e).
    assert f"{registry}/racetrack/sources/cli-adder@sha256:" in deployed.stderr
    lines = deployed.stdout.splitlines()
    assert lines[0] == "Job cli-adder-v1-0-0 is ready"
    assert lines[2].startswith(f"Image: {registry}/") and "@sha256:" in lines[2]
    assert lines[3] == f"URL:   {gateway_url}/pub/job/cli-adder/1.0.0/api/v1/perform"

    # The pods carry what their image was built from, as the original's did.
    job = json.loads(
        cluster.kubectl("get", "rtjob", "cli-adder-v1-0-0", "-n", NAMESPACE, "-o", "json").stdout
    )
    revision = job["status"]["build"]["revision"]
    assert revision.startswith("sha256:")  # the pushed folder's digest
    deployment = json.loads(
        cluster.kubectl(
            "get", "deployment", "cli-adder-v1-0-0", "-n", NAMESPACE, "-o", "json"
        ).stdout
    )
    env = {
        e["name"]: e.get("value")
        for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]
    }
    assert env["GIT_VERSION"] == revision
    # The platform's version is in the image, not the Deployment: upgrading rolls no job.
    assert "DEPLOYED_BY_RACETRACK_VERSION" not in env

    called = first_call(cluster, "cli-adder", '{"a": 40, "b": 2}', "--gateway", gateway_url)
    assert called.returncode == 0, called.stderr
    assert json.loads(called.stdout) == 42
    exact = racetrack(
        cluster, "call", "cli-adder", "1.0.0", '{"a": 1, "b": 2}', "--gateway", gateway_url
    )
    assert (exact.returncode, exact.stdout.strip()) == (0, "3")
    # ... and the running job reads it from there, as its /health says.
    with urllib.request.urlopen(f"{gateway_url}/pub/job/cli-adder/1.0.0/health") as answer:
        health = json.loads(answer.read())
    assert health["deployed_by_racetrack_version"] == PLATFORM_VERSION
    assert health["git_version"] == revision

    logs = racetrack(cluster, "logs", "cli-adder", "-n", NAMESPACE)
    assert logs.returncode == 0, logs.stderr
    assert "POST /api/v1/perform 200" in logs.stdout or "/api/v1/perform" in logs.stdout
    build_logs = racetrack(cluster, "logs", "cli-adder", "1.0.0", "--build", "-n", NAMESPACE)
    assert build_logs.returncode == 0, build_logs.stderr
    assert "==> " in build_logs.stdout  # one section per build step's container

    listed = racetrack(cluster, "list", "-n", NAMESPACE)
    assert listed.stdout.splitlines()[1].split()[:3] == ["cli-adder", "1.0.0", "ready"]
    as_json = racetrack(cluster, "list", "-n", NAMESPACE, "-o", "json")
    [record] = json.loads(as_json.stdout)
    assert (record["name"], record["version"], record["status"]) == ("cli-adder", "1.0.0", "ready")
    assert lines[2] == f"Image: {record['image']}" and record["job"] == "cli-adder-v1-0-0"

    # --follow prints the job's lines as they are written, until Ctrl-C.
    following = follow_logs(
        cluster, "logs", "cli-adder", "-n", NAMESPACE, "--follow", "--tail", "0"
    )
    try:

        def followed() -> bool:
            racetrack(cluster, "call", "cli-adder", '{"a": 5, "b": 5}', "--gateway", gateway_url)
            # The path the gateway forwards: POST /pub/job/cli-adder/1.0.0/api/v1/perform 200
            return any("/api/v1/perform 200" in line for line in following.lines)

        eventually(followed)
    finally:
        following.process.send_signal(signal.SIGINT)
        ended = following.process.wait(timeout=30)
        assert following.process.stderr is not None
        assert ended == 130, following.process.stderr.read()

    deleted = racetrack(cluster, "delete", "cli-adder", "1.0.0", "-n", NAMESPACE)
    assert deleted.returncode == 0, deleted.stderr

    def refused() -> bool:
        gone = racetrack(cluster, "call", "cli-adder", '{"a": 1, "b": 1}', "--gateway", gateway_url)
        return gone.returncode == 1 and "HTTP 404" in gone.stderr

    eventually(refused)


def test_a_call_needs_the_callers_token_where_the_endpoint_is_not_public(
    operator_cluster: LocalCluster, gateway_url: str
) -> None:
    cluster = operator_cluster
    registry = handle(cluster).registry_host
    namespace = f"{NAMESPACE}-token"
    cluster.kubectl("create", "namespace", namespace)
    deployed = racetrack(
        cluster, "deploy", str(ADDER), "-n", namespace, "--build-context", "local",
        "--registry", registry, "-e", "name=private-adder",
    )  # fmt: skip
    assert deployed.returncode == 0, deployed.stderr

    anonymous = first_call(cluster, "private-adder", '{"a": 1, "b": 2}', "--gateway", gateway_url)
    assert anonymous.returncode == 1
    assert "HTTP 401" in anonymous.stderr

    caller = {
        "apiVersion": "racetrack.io/v1alpha1", "kind": "ExternalServiceConsumer",
        "metadata": {"name": "cli-caller", "namespace": namespace}, "spec": {},
    }  # fmt: skip
    permission = {
        "apiVersion": "racetrack.io/v1alpha1", "kind": "Permission",
        "metadata": {"name": "cli-caller-calls-adder", "namespace": namespace},
        "spec": {
            "subject": {"kind": "ExternalServiceConsumer", "name": "cli-caller"},
            "scope": "call_job", "resource": {"family": "private-adder"},
        },
    }  # fmt: skip
    for obj in (caller, permission):
        cluster.kubectl("apply", "-f", "-", input=json.dumps(obj))

    def token() -> str:
        printed = racetrack(cluster, "token", "esc", "cli-caller", "-n", namespace)
        return printed.stdout.strip() if printed.returncode == 0 else ""

    secret = eventually(token)

    def answered() -> bool:
        called = racetrack(
            cluster, "call", "private-adder", '{"a": 1, "b": 2}', "--gateway", gateway_url,
            token=secret,
        )  # fmt: skip
        return called.returncode == 0 and called.stdout.strip() == "3"

    eventually(answered)


def deploy_sample(
    cluster: LocalCluster, gateway_url: str, folder: str, name: str, *extra: str
) -> str:
    """``racetrack deploy`` of ``examples/jobs/<folder>`` unchanged into a namespace of its
    own, under ``name``, ``perform`` open to anonymous callers; the version it deployed."""
    cluster.kubectl("create", "namespace", name)
    deployed = racetrack(
        cluster, "deploy", str(REPO / "examples" / "jobs" / folder), "-n", name,
        "--build-context", "local", "--registry", handle(cluster).registry_host,
        "--gateway", gateway_url, "-e", f"name={name}",
        "-e", "public_endpoints=[/api/v1/perform]", *extra,
    )  # fmt: skip
    assert deployed.returncode == 0, deployed.stderr
    url = deployed.stdout.splitlines()[3].removeprefix("URL:").strip()
    return url.split("/")[-4]


SIGNED = hmac.new(b"change-me", b"hello", hashlib.sha256).hexdigest()
HASHED = hashlib.sha256(hashlib.sha256(b"racetrack").digest()).hexdigest()
_DIE = random.Random(1)
ROLLED = [_DIE.randint(1, 6) for _ in range(3)]
# (example folder, its own -e overrides, the body of a call, the answer)
SAMPLES = [
    # extends: the overlay's CURRENCY over the base's, the base's ROUNDING kept
    ("overlays", [], {"amounts": [40.5, 1.25]}, {"total": 41.75, "currency": "PLN"}),
    # a secret env file (its committed example) reaches the job as a variable from a Secret
    ("secret-reader", ["-e", "secret_runtime_env_file=secret-runtime.env.example"],
     {"message": "hello"}, {"message": "hello", "signature": SIGNED, "key_id": "example-key-1"}),
    # no version: 0.0.1, as the original defaulted
    ("primer", [], {"number": 7919}, True),
    # the deprecated `python:` key for jobtype_extra
    ("logging", [], {"greeting": "Hi"}, None),
    ("hasher", [], {"text": "racetrack", "rounds": 2}, HASHED),
    ("auxiliary-endpoints-v2", [], {"metres": 0.3048}, 1.0),
    ("webview", [], {"name": "ada"}, 1),
    ("logging-format", [], {"text": "abc"}, 3),
    ("metrics", [], {"rolls": 3, "seed": 1}, ROLLED),
    # a dataclass answered as a JSON object; auxiliary endpoints and static files beside
    ("auxiliary-endpoints", [], {"text": "The quick brown fox"}, {"words": 4, "vowels": 5}),
    # pages of an ASGI webview_app beside perform
    ("webview-asgi", [], {"text": "# Hi"}, "<h2>Hi</h2>"),
    # Ready only once warm_up has loaded its model (WARMUP_SECONDS from runtime_env)
    ("slow-warmup", [], {"x": 2}, 4.5),
]  # fmt: skip


@pytest.mark.parametrize(
    ("folder", "extra", "body", "answer"), SAMPLES, ids=[s[0] for s in SAMPLES]
)
def test_example_job_folders_deploy_unchanged_and_answer_through_the_gateway(
    operator_cluster: LocalCluster,
    gateway_url: str,
    folder: str,
    extra: list[str],
    body: object,
    answer: object,
) -> None:
    cluster = operator_cluster
    name = f"cli-{folder}"
    version = deploy_sample(cluster, gateway_url, folder, name, *extra)
    called = first_call(cluster, name, version, json.dumps(body), "--gateway", gateway_url)
    assert called.returncode == 0, called.stderr
    if answer is None:  # greets whoever called (an anonymous caller has no name)
        assert json.loads(called.stdout).startswith("Hi, ")
    else:
        assert json.loads(called.stdout) == answer
    if folder == "primer":
        assert version == "0.0.1"


def test_a_call_longer_than_perform_timeout_is_answered_504_and_the_job_keeps_serving(
    operator_cluster: LocalCluster, gateway_url: str
) -> None:
    cluster = operator_cluster
    name = "cli-timeout"
    version = deploy_sample(cluster, gateway_url, "timeout", name)
    quick = first_call(
        cluster, name, version, '{"mode": "sleep", "seconds": 0.1}', "--gateway", gateway_url
    )
    assert quick.returncode == 0, quick.stderr
    assert json.loads(quick.stdout)["mode"] == "sleep"
    # perform_timeout: 2 in its job.yaml
    late = racetrack(
        cluster, "call", name, version, '{"mode": "sleep", "seconds": 6}', "--gateway", gateway_url
    )
    assert late.returncode == 1
    assert "HTTP 504" in late.stderr, late.stderr
    failing = racetrack(
        cluster, "call", name, version, '{"mode": "fail"}', "--gateway", gateway_url
    )
    assert failing.returncode == 1
    assert "HTTP 500" in failing.stderr and "failing on purpose" in failing.stderr, failing.stderr
    again = racetrack(
        cluster, "call", name, version, '{"mode": "spin", "seconds": 0.1}', "--gateway", gateway_url
    )
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["mode"] == "spin"


def test_the_chain_sample_calls_the_adder_sample_with_its_familys_token(
    operator_cluster: LocalCluster, gateway_url: str
) -> None:
    """Both folders unchanged: chain calls the family ``adder`` through ``PUB_URL`` with its
    family's ``AUTH_TOKEN``, which a Permission lets call adder (and nothing else)."""
    cluster = operator_cluster
    namespace = "cli-chain"
    registry = handle(cluster).registry_host
    cluster.kubectl("create", "namespace", namespace)
    try:
        permission = {
            "apiVersion": "racetrack.io/v1alpha1", "kind": "Permission",
            "metadata": {"name": "chain-calls-adder", "namespace": namespace},
            "spec": {"subject": {"kind": "JobFamily", "name": "chain"}, "scope": "call_job",
                     "resource": {"family": "adder"}},
        }  # fmt: skip
        cluster.kubectl("apply", "-f", "-", input=json.dumps(permission))
        for folder, extra in (
            ("adder", []),  # not public: only chain may call it
            (
                "chain",
                [
                    "-e",
                    "public_endpoints=[/api/v1/perform, /api/v1/from-async-code, "
                    "/api/v1/in-background]",
                ],
            ),
        ):
            deployed = racetrack(
                cluster, "deploy", str(REPO / "examples" / "jobs" / folder), "-n", namespace,
                "--build-context", "local", "--registry", registry, "--gateway", gateway_url,
                *extra,
            )  # fmt: skip
            assert deployed.returncode == 0, deployed.stderr

        anonymous = first_call(cluster, "adder", '{"a": 1, "b": 2}', "--gateway", gateway_url)
        assert "HTTP 401" in anonymous.stderr  # adder is not public: chain uses its token
        chained = first_call(cluster, "chain", '{"a": 40.4, "b": 1.4}', "--gateway", gateway_url)
        assert chained.returncode == 0, chained.stderr
        assert json.loads(chained.stdout) == 42  # round(41.8), the sum from adder
        from_async = racetrack(
            cluster, "call", "chain", '{"a": 0.2, "b": 0.9}', "--gateway", gateway_url,
            "--endpoint", "/api/v1/from-async-code",
        )  # fmt: skip
        assert from_async.returncode == 0, from_async.stderr
        assert json.loads(from_async.stdout) == 1
        # async_job_call: started at the gateway's /pub/async/new/job/adder/..., then polled
        in_background = racetrack(
            cluster, "call", "chain", '{"a": 2.4, "b": 0.3}', "--gateway", gateway_url,
            "--endpoint", "/api/v1/in-background",
        )  # fmt: skip
        assert in_background.returncode == 0, in_background.stderr
        assert json.loads(in_background.stdout) == 3

        # Without the Permission, the gateway refuses chain's call, and chain says so.
        cluster.kubectl("delete", "rtperm", "chain-calls-adder", "-n", namespace)

        def refused() -> subprocess.CompletedProcess[str] | None:
            called = racetrack(
                cluster, "call", "chain", '{"a": 1, "b": 1}', "--gateway", gateway_url
            )
            return called if called.returncode == 1 else None

        assert "403" in eventually(refused).stderr
    finally:
        # Family names are served cluster-wide: leave no second "adder" to other tests.
        cluster.kubectl("delete", "namespace", namespace, "--wait=false", check=False)


def image_config(cluster: LocalCluster, image: str) -> dict[str, Any]:
    """The config of a pushed image (``HOST/REPOSITORY@sha256:...``), read from the registry."""
    assert cluster.real is not None
    reference = Reference.parse(image)
    registry = Registry(cluster.real.registry_url)
    found = registry.manifest(reference.repository, reference.reference)
    assert found is not None, image
    manifest = json.loads(found[1])
    config: dict[str, Any] = json.loads(
        registry.blob(reference.repository, manifest["config"]["digest"])
    )
    return config


def test_the_docker_proxy_sample_builds_from_python_slim_through_the_registry_mirror(
    operator_cluster: LocalCluster, gateway_url: str
) -> None:
    """Its Dockerfile says ``FROM python:3.11-slim-bookworm``, docker.io's: no pod here
    reaches docker.io, so BuildKit pulls it from the dev registry, which holds an image made
    here under that name, as an air-gapped cluster's registry does."""
    cluster = operator_cluster
    name = "cli-docker-proxy"
    version = deploy_sample(cluster, gateway_url, "docker-proxy", name)
    called = first_call(
        cluster, name, version, '{"text": "one two three"}', "--gateway", gateway_url
    )
    assert called.returncode == 0, called.stderr
    assert json.loads(called.stdout) == 3

    job = json.loads(cluster.kubectl("get", "rtjob", "-n", name, "-o", "json").stdout)["items"][0]
    config = image_config(cluster, job["status"]["image"])
    # Built FROM the stand-in (its label is inherited), with the platform's version baked in.
    labels = config["config"]["Labels"]
    assert labels["io.racetrack.recipe"].startswith("debootstrap-bookworm-python-")
    assert f"DEPLOYED_BY_RACETRACK_VERSION={PLATFORM_VERSION}" in config["config"]["Env"]
