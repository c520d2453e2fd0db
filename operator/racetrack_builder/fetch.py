"""The ``fetch`` step: put the job's source into the workspace, and record its revision.

From git: a shallow clone of one branch (``--depth 1``: the history is of no use to a build),
or of one ref (a tag or a commit, fetched by name). Credentials come from a mounted Secret
(``username`` and ``password`` keys) through a credential helper that reads the files, so
they appear in no command line, no URL and no log. The revision is the commit built.

From an artifact: the folder that ``racetrack source push`` packed, by digest; the revision
is that digest.

Either way ``<workspace>/source`` ends up holding the build context (``git.directory`` of
the checkout) without ``.git``, and ``<workspace>/revision`` the revision.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from racetrack_builder import report
from racetrack_builder.report import BuildFailure
from racetrack_images import sources
from racetrack_images.registry import Reference, Registry, RegistryError

SOURCE = "source"
REVISION = "revision"

# What git prints for failures retrying cannot fix, and how to say what to change instead.
_PERMANENT = (
    (
        re.compile(
            r"Authentication failed|could not read (Username|Password)|returned error: 40[13]"
        ),
        "git could not authenticate to {remote}: check the username and password in the "
        "Secret named by spec.git.credentials (or add one)",
    ),
    (
        re.compile(r"Remote branch .* not found|couldn't find remote ref|unknown revision"),
        "{what} was not found in {remote}",
    ),
    (
        re.compile(r"repository '.*' not found|returned error: 404|does not appear to be a git"),
        "{remote} is not a git repository the server knows (HTTP 404)",
    ),
    (
        re.compile(r"SSL certificate problem|server certificate verification failed"),
        "the TLS certificate of {remote} is not trusted by the builder: give the operator its "
        "CA (RACETRACK_BUILD_CA_CONFIGMAP)",
    ),
)


@dataclass(frozen=True)
class GitSource:
    remote: str
    branch: str | None = None
    ref: str | None = None
    directory: str = "."
    credentials: Path | None = None

    @property
    def what(self) -> str:
        if self.ref:
            return f"ref {self.ref}"
        return f"branch {self.branch}" if self.branch else "the default branch"


def classify_git(output: str, source: GitSource) -> BuildFailure:
    """A failed git command as the failure to report (pure)."""
    for pattern, message in _PERMANENT:
        if pattern.search(output):
            text = message.format(remote=source.remote, what=source.what)
            return BuildFailure(report.FETCH_FAILED, text, permanent=True, log=report.tail(output))
    return BuildFailure(
        report.FETCH_FAILED,
        f"git could not fetch {source.what} of {source.remote} (will retry): "
        + (report.tail(output, 1) or ["no output"])[0],
        permanent=False,
        log=report.tail(output),
    )


def _credential_helper(directory: Path) -> str:
    # git runs this through the shell; the paths are ours, the values stay in the files.
    user, password = directory / "username", directory / "password"
    return f'!f() {{ echo "username=$(cat {user})"; echo "password=$(cat {password})"; }}; f'


def _git(args: list[str], cwd: Path, source: GitSource) -> str:
    config: list[str] = []
    if source.credentials is not None:
        config = ["-c", f"credential.helper={_credential_helper(source.credentials)}"]
    env = {
        **os.environ,
        # Fail instead of waiting for a password nobody will type.
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_CONFIG_NOSYSTEM": "1",
        "HOME": os.environ.get("HOME", "/tmp"),
    }
    result = subprocess.run(
        ["git", *config, *args], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )
    output = result.stdout + result.stderr
    print(output, end="", flush=True)
    if result.returncode != 0:
        raise classify_git(output, source)
    return result.stdout


def clone(source: GitSource, checkout: Path) -> str:
    """Fetch one commit into ``checkout``; returns its id."""
    checkout.mkdir(parents=True, exist_ok=True)
    _git(["init", "--quiet", "--initial-branch=build"], checkout, source)
    _git(["remote", "add", "origin", source.remote], checkout, source)
    wanted = source.ref or source.branch or "HEAD"
    # One object graph, one commit deep, no tags: the least a build needs.
    _git(["fetch", "--depth=1", "--no-tags", "origin", wanted], checkout, source)
    _git(["checkout", "--quiet", "--detach", "FETCH_HEAD"], checkout, source)
    return _git(["rev-parse", "HEAD"], checkout, source).strip()


def place(checkout: Path, directory: str, target: Path, remote: str) -> None:
    """Move ``directory`` of the checkout to ``target``, without git's own folder."""
    relative = PurePosixPath(directory)
    if relative.is_absolute() or ".." in relative.parts:
        raise BuildFailure(
            report.FETCH_FAILED,
            f"spec.git.directory {directory!r} leaves the repository",
            permanent=True,
        )
    context = checkout / relative
    if not context.is_dir():
        raise BuildFailure(
            report.FETCH_FAILED,
            f"directory {directory!r} does not exist in {remote}: fix spec.git.directory",
            permanent=True,
        )
    shutil.rmtree(checkout / ".git", ignore_errors=True)
    context.rename(target)


def fetch_git(source: GitSource, workspace: Path, timings: report.Timings) -> str:
    with timings.phase("clone"):
        revision = clone(source, workspace / "checkout")
        place(workspace / "checkout", source.directory, workspace / SOURCE, source.remote)
    (workspace / REVISION).write_text(revision)
    return revision


def fetch_artifact(
    registry: Registry, artifact: Reference, workspace: Path, timings: report.Timings
) -> str:
    with timings.phase("clone"):
        try:
            files = sources.fetch(registry, artifact, workspace / SOURCE, workspace)
        except sources.SourceError as error:
            raise BuildFailure(report.FETCH_FAILED, str(error), permanent=True) from error
        except RegistryError as error:
            hint = "" if error.transient else ": push the folder again with `racetrack source push`"
            raise BuildFailure(
                report.FETCH_FAILED, f"{artifact}: {error}{hint}", permanent=not error.transient
            ) from error
    print(f"Unpacked {files} files of {artifact}", flush=True)
    revision = str(artifact.digest)
    (workspace / REVISION).write_text(revision)
    return revision
