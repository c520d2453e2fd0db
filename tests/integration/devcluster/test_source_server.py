"""The dev cluster's git server and wheel folder, over real TLS, with git and pip as clients.

Builds on the real node clone from it and install from it; here it runs on loopback with a
certificate from a CA made for the test, as the cluster's CA signs it on a real node.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID

import support  # type: ignore[import-not-found]
from racetrack_builder import fetch, report
from racetrack_builder.report import BuildFailure
from racetrack_devcluster import pki
from racetrack_devcluster.processes import PortAllocator
from racetrack_devcluster.realnode import sourceserver
from racetrack_devcluster.realnode.wheels import write_wheel


class Server:
    def __init__(self, url: str, ca: Path, password: str, wheels: Path) -> None:
        self.url = url
        self.ca = ca
        self.password = password
        self.wheels = wheels

    def git(self, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "GIT_SSL_CAINFO": str(self.ca), "GIT_TERMINAL_PROMPT": "0"}
        return subprocess.run(
            ["git", "-c", "user.email=t@example.org", "-c", "user.name=t", *args],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    work = tmp_path_factory.mktemp("sources")
    authority = pki.CertificateAuthority.create(work)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sources")])
    pair = authority.issue(work, "sources", name, server_ips=["127.0.0.1"])
    password = work / "password"
    password.write_text("s3cret")
    port = PortAllocator().claim("sources")
    argv = sourceserver.argv(
        "127.0.0.1", port, pair.cert, pair.key, work / "git", work / "wheels", password
    )
    with (work / "server.log").open("wb") as log:
        process = subprocess.Popen(argv, stdout=log, stderr=log)
    url = f"https://127.0.0.1:{port}"
    try:
        support.eventually(lambda: _listening(port), 20, "the server listens")
        yield Server(url, authority.pair.cert, "s3cret", work / "wheels")
    finally:
        process.terminate()
        process.wait(timeout=10)


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True


@pytest.fixture
def work_tree(tmp_path: Path, server: Server) -> Path:
    tree = tmp_path / "tree"
    (tree / "jobs").mkdir(parents=True)
    (tree / "jobs" / "entrypoint.py").write_text("A = 1\n")
    server.git("init", "-q", "-b", "main", cwd=tree)
    server.git("add", ".", cwd=tree)
    server.git("commit", "-qm", "one", cwd=tree)
    return tree


def test_a_push_creates_the_repository_and_a_shallow_clone_gets_it(
    server: Server, work_tree: Path, tmp_path: Path
) -> None:
    pushed = server.git("push", f"{server.url}/git/adder.git", "main", cwd=work_tree)
    assert pushed.returncode == 0, pushed.stderr
    cloned = server.git(
        "clone", "--depth=1", f"{server.url}/git/adder.git", str(tmp_path / "c"), cwd=tmp_path
    )
    assert cloned.returncode == 0, cloned.stderr
    assert (tmp_path / "c" / "jobs" / "entrypoint.py").read_text() == "A = 1\n"


def test_a_repository_that_was_never_pushed_is_not_found(server: Server, tmp_path: Path) -> None:
    answer = server.git("ls-remote", f"{server.url}/git/never.git", cwd=tmp_path)
    assert answer.returncode != 0 and "not found" in answer.stderr


def test_private_repositories_need_the_password(
    server: Server, work_tree: Path, tmp_path: Path
) -> None:
    anonymous = server.git("push", f"{server.url}/git/private/x.git", "main", cwd=work_tree)
    assert anonymous.returncode != 0
    wrong = f"https://racetrack:nope@{server.url.removeprefix('https://')}/git/private/x.git"
    assert server.git("push", wrong, "main", cwd=work_tree).returncode != 0
    right = wrong.replace(":nope@", f":{server.password}@")
    assert server.git("push", right, "main", cwd=work_tree).returncode == 0


def test_pip_installs_from_the_wheel_folder_over_tls(server: Server, tmp_path: Path) -> None:
    write_wheel(server.wheels, "racetrack-served", "1.0.0", {"served.py": "OK = True\n"})
    result = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-index", "--target",
         str(tmp_path / "site"), "--find-links", f"{server.url}/wheels/", "--retries", "0",
         "racetrack-served"],
        # pip's own --cert, and the default bundle for pips that verify through truststore.
        env={**os.environ, "PIP_CERT": str(server.ca), "SSL_CERT_FILE": str(server.ca),
             "PIP_FIND_LINKS": ""},
        capture_output=True,
        text=True,
        check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "site" / "served.py").read_text() == "OK = True\n"


def test_the_builder_clones_a_private_repository_with_the_credentials_secret(
    server: Server,
    work_tree: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    """The fetch step as a build pod runs it: the Secret named by spec.git.credentials
    mounted as files, the cluster CA trusted, a shallow clone of one branch over TLS."""
    authorized = f"https://racetrack:{server.password}@{server.url.removeprefix('https://')}"
    pushed = server.git("push", f"{authorized}/git/private/builder.git", "main", cwd=work_tree)
    assert pushed.returncode == 0, pushed.stderr
    monkeypatch.setenv("GIT_SSL_CAINFO", str(server.ca))
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    (credentials / "username").write_text("racetrack")
    (credentials / "password").write_text(server.password)
    remote = f"{server.url}/git/private/builder.git"
    source = fetch.GitSource(remote, branch="main", directory="jobs", credentials=credentials)

    revision = fetch.fetch_git(source, tmp_path / "workspace", report.Timings())
    assert len(revision) == 40
    assert (tmp_path / "workspace" / fetch.SOURCE / "entrypoint.py").read_text() == "A = 1\n"

    # A wrong password fails for good, says which Secret to fix, and is printed nowhere.
    (credentials / "password").write_text("wrong-password")
    with pytest.raises(BuildFailure) as caught:
        fetch.fetch_git(source, tmp_path / "again", report.Timings())
    failure = caught.value
    assert failure.reason == report.FETCH_FAILED and failure.permanent
    assert "spec.git.credentials" in failure.message
    printed = capfd.readouterr()
    said = printed.out + printed.err + failure.message + "\n".join(failure.log)
    assert server.password not in said and "wrong-password" not in said
