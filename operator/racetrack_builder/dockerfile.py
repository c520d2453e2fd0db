"""The ``dockerfile`` step: build and push an image from a Dockerfile with rootless BuildKit.

One ``buildkitd`` is started for the step, inside RootlessKit's user namespace (no root, no
privileged container; see the pod's security context in the operator's build renderer), and
``buildctl`` builds the workspace's source with the Dockerfile frontend, pushing the result.
``--oci-worker-no-process-sandbox`` lets BuildKit run ``RUN`` steps without mounting a new
``/proc``, which an unprivileged container cannot do.

The image is pushed through the registry's endpoint for pods; when images are named by
another host (a node-local name), BuildKit gets that host as a mirror of the endpoint, so
``FROM <registry>/racetrack/python3-base`` resolves the same way it does on the nodes.
Registries named in ``RACETRACK_REGISTRY_MIRRORS`` are pulled from their mirror, so a
Dockerfile's ``FROM python:3.11-slim-bookworm`` builds where docker.io cannot be reached.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import time
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from racetrack_builder import compose, report
from racetrack_builder.fetch import REVISION, SOURCE
from racetrack_builder.report import BuildFailure

START_TIMEOUT = 30.0
_PUSH = re.compile(r"failed to push|push access denied|unexpected status from (PUT|POST|HEAD)")
_TRANSIENT = re.compile(
    r"connection refused|connection reset|i/o timeout|no such host|TLS handshake timeout|"
    r"50[0-4] (Internal Server Error|Bad Gateway|Service Unavailable|Gateway Timeout)",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Daemon:
    """Where the step's buildkitd keeps its state and listens."""

    runtime_dir: Path
    root: Path
    config: Path

    @property
    def address(self) -> str:
        return f"unix://{self.runtime_dir}/buildkit/buildkitd.sock"


def mirrors_of(setting: str, endpoint: str) -> dict[str, str]:
    """``RACETRACK_REGISTRY_MIRRORS`` (``docker.io``, ``docker.io=HOST``, comma-separated)
    as registry -> mirror host; a name alone is mirrored by the cluster's registry (pure)."""
    host = urllib.parse.urlsplit(endpoint).netloc
    mirrors = {}
    for item in filter(None, (part.strip() for part in setting.split(","))):
        name, _, mirror = item.partition("=")
        mirrors[name] = mirror or host
    return mirrors


def daemon_config(
    registry_name: str,
    endpoint: str,
    ca_files: list[str],
    mirrors: Mapping[str, str] | None = None,
) -> str:
    """buildkitd.toml: the OCI worker only, how to reach the registry, and which registries
    ``FROM`` pulls from a mirror (pure)."""
    parsed = urllib.parse.urlsplit(endpoint)
    host = parsed.netloc
    lines = ["[worker.oci]", "  enabled = true", "[worker.containerd]", "  enabled = false"]
    if registry_name and registry_name != host:
        lines += [f'[registry."{registry_name}"]', f'  mirrors = ["{host}"]']
    for name, mirror in sorted((mirrors or {}).items()):
        if name not in (registry_name, host):
            lines += [f'[registry."{name}"]', f"  mirrors = [{json.dumps(mirror)}]"]
    lines += [f'[registry."{host}"]', f"  http = {'true' if parsed.scheme == 'http' else 'false'}"]
    if ca_files:
        lines.append("  ca = [" + ", ".join(json.dumps(path) for path in ca_files) + "]")
    return "\n".join(lines) + "\n"


def daemon_argv(daemon: Daemon) -> list[str]:
    return [
        "rootlesskit",
        f"--state-dir={daemon.runtime_dir}/rootlesskit",
        "buildkitd",
        f"--addr={daemon.address}",
        f"--root={daemon.root}",
        f"--config={daemon.config}",
        "--oci-worker-no-process-sandbox",
    ]


def build_argv(
    daemon: Daemon,
    context: Path,
    dockerfile_dir: Path,
    target: str,
    build_args: Mapping[str, str],
    secrets: Mapping[str, Path],
    metadata: Path,
) -> list[str]:
    """``buildctl build`` of ``context`` with the Dockerfile in ``dockerfile_dir`` (pure)."""
    argv = [
        "buildctl", f"--addr={daemon.address}", "build", "--progress=plain",
        "--frontend=dockerfile.v0", f"--local=context={context}",
        f"--local=dockerfile={dockerfile_dir}",
        f"--output=type=image,name={target},push=true",
        f"--metadata-file={metadata}",
    ]  # fmt: skip
    for name, value in sorted(build_args.items()):
        argv.append(f"--opt=build-arg:{name}={value}")
    for name, path in sorted(secrets.items()):
        argv.append(f"--secret=id={name},src={path}")
    return argv


def classify(output: str) -> BuildFailure:
    """A failed ``buildctl build`` as the failure to report (pure)."""
    lines = report.tail(output)
    errors = [line for line in output.splitlines() if line.lower().startswith("error")]
    headline = (errors[-1] if errors else (lines[-1] if lines else "buildctl failed")).strip()
    transient = _TRANSIENT.search(output) is not None
    if _PUSH.search(output):
        return BuildFailure(
            report.PUSH_FAILED, f"pushing the image failed: {headline}", permanent=not transient,
            log=lines,
        )  # fmt: skip
    return BuildFailure(
        report.IMAGE_BUILD_FAILED,
        f"the Dockerfile build failed: {headline}",
        permanent=not transient,
        log=lines,
    )


def with_platform_version(dockerfile: str, version: str | None) -> str:
    """The Dockerfile with the platform's version set in the final image's environment, by
    an ``ENV`` after its last instruction (the last stage is the image; pure)."""
    if not version:
        return dockerfile
    separator = "" if dockerfile.endswith("\n") or not dockerfile else "\n"
    return f"{dockerfile}{separator}ENV {compose.PLATFORM_VERSION_ENV}={json.dumps(version)}\n"


def write_dockerfile(
    context: Path, rendered: str | None, platform_version: str | None, directory: Path
) -> Path:
    """The folder of the Dockerfile to build: the rendered one, else the job's own, with
    the platform's version added. A copy beside the context: the source stays as fetched."""
    own = context / "Dockerfile"
    if rendered is None and not own.is_file():
        raise BuildFailure(
            report.IMAGE_BUILD_FAILED,
            "there is no Dockerfile at the root of the job's directory: add one, or fix "
            "spec.git.directory",
            permanent=True,
        )
    text = own.read_text() if rendered is None else rendered
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "Dockerfile").write_text(with_platform_version(text, platform_version))
    # BuildKit reads the ignore file beside the Dockerfile before the context's .dockerignore.
    ignore = context / "Dockerfile.dockerignore"
    if rendered is None and ignore.is_file():
        (directory / ignore.name).write_bytes(ignore.read_bytes())
    return directory


def secret_files(directory: Path | None, scratch: Path) -> dict[str, Path]:
    """Each key of the mounted build Secret by name, and all of them as ``build_secrets``
    (``KEY=value`` lines, the file the original Racetrack mounted)."""
    if directory is None or not directory.is_dir():
        return {}
    keys = sorted(p for p in directory.iterdir() if not p.name.startswith(".") and p.is_file())
    if not keys:
        return {}
    combined = scratch / "build_secrets.env"
    # Shell syntax: the Dockerfile's RUN sources it with `set -a`.
    combined.write_text("".join(f"{path.name}={shlex.quote(path.read_text())}\n" for path in keys))
    combined.chmod(0o600)
    return {"build_secrets": combined, **{path.name: path for path in keys}}


def start_daemon(daemon: Daemon, log_path: Path) -> subprocess.Popen[bytes]:
    daemon.root.mkdir(parents=True, exist_ok=True)
    (daemon.runtime_dir / "buildkit").mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") as log:
        process = subprocess.Popen(daemon_argv(daemon), stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        ready = subprocess.run(
            ["buildctl", f"--addr={daemon.address}", "debug", "workers"],
            capture_output=True,
            check=False,
        )
        if ready.returncode == 0:
            return process
        time.sleep(0.1)
    process.kill()
    text = log_path.read_text(errors="replace")
    print(text, end="", flush=True)
    raise BuildFailure(
        report.IMAGE_BUILD_FAILED,
        "BuildKit could not start in the build pod (rootless BuildKit needs an Unconfined "
        "seccomp profile, allowPrivilegeEscalation and the SETUID/SETGID capabilities): "
        + (report.tail(text, 1) or ["no output"])[0],
        permanent=True,
        log=report.tail(text),
    )


def build(
    workspace: Path,
    *,
    registry_name: str,
    endpoint: str,
    repository: str,
    version: str,
    dockerfile: str | None,
    build_arg_names: list[str],
    secrets_dir: Path | None,
    ca_file: str | None,
    timings: report.Timings,
    platform_version: str | None = None,
    mirrors: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Build the source with its Dockerfile (or the rendered one) and push; what was pushed."""
    scratch = Path(os.environ.get("TMPDIR", "/tmp"))
    runtime_dir = Path(os.environ.get("XDG_RUNTIME_DIR", str(scratch / "run")))
    home = Path(os.environ.get("HOME", str(scratch)))
    daemon = Daemon(runtime_dir, home / ".local/share/buildkit", scratch / "buildkitd.toml")
    daemon.config.write_text(
        daemon_config(registry_name, endpoint, [ca_file] if ca_file else [], mirrors)
    )
    context = workspace / SOURCE
    dockerfile_dir = write_dockerfile(context, dockerfile, platform_version, scratch / "dockerfile")
    revision = (workspace / REVISION).read_text().strip()
    tag = compose.image_tag(version, revision)
    host = urllib.parse.urlsplit(endpoint).netloc
    metadata = scratch / "metadata.json"
    build_args = {name: os.environ[name] for name in build_arg_names if name in os.environ}
    argv = build_argv(
        daemon, context, dockerfile_dir, f"{host}/{repository}:{tag}", build_args,
        secret_files(secrets_dir, scratch), metadata,
    )  # fmt: skip
    with timings.phase("start"):
        process = start_daemon(daemon, scratch / "buildkitd.log")
    try:
        with timings.phase("build"):
            result = subprocess.run(argv, capture_output=True, text=True, check=False)
        output = result.stdout + result.stderr
        print(output, end="", flush=True)
        if result.returncode != 0:
            raise classify(output)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
    digest = json.loads(metadata.read_text())["containerimage.digest"]
    print(f"Pushed {repository}:{tag}@{digest}", flush=True)
    return {"digest": digest, "tag": tag, "revision": revision}
