"""Git over HTTPS and a wheel folder on the node's address, so builds run with no network.

Pods on the real node have no route out, so a build cannot clone from a public forge or
install from PyPI. This server runs next to the registry, on the host side of the node's
veth, with a certificate from the cluster CA (the builder trusts it through the cluster's
``kube-root-ca.crt`` ConfigMap, as an installation trusts its own CA):

- ``/git/NAME.git``: git's smart HTTP protocol, served by ``git http-backend`` (the dumb
  protocol cannot do the shallow clones builds make). Pushing to a repository that does not
  exist creates it. Repositories under ``/git/private/`` ask for basic auth (user
  ``racetrack``, the password in the cluster's ``git-password`` file), to test credentials.
- ``/wheels/``: a folder of wheels as a link page, for ``PIP_FIND_LINKS`` with
  ``PIP_NO_INDEX``.

Run as ``python -m racetrack_devcluster.realnode.sourceserver`` (a component of the cluster).
"""

from __future__ import annotations

import argparse
import base64
import hmac
import html
import os
import re
import ssl
import subprocess
import sys
import urllib.parse
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

GIT_USER = "racetrack"
_REPOSITORY = re.compile(r"^/git/((?:private/)?[a-z0-9][a-z0-9._-]*\.git)(/.*)?$")


class Config:
    def __init__(self, git_root: Path, wheels: Path, password: str) -> None:
        self.git_root = git_root
        self.wheels = wheels
        self.password = password


def repository_of(path: str) -> tuple[str, str] | None:
    """``/git/adder.git/info/refs`` -> (``adder.git``, ``/info/refs``), or None (pure)."""
    match = _REPOSITORY.match(path)
    if match is None or ".." in path:
        return None
    return match.group(1), match.group(2) or "/"


def cgi_response(output: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
    """A CGI program's output split into status, headers and body (pure)."""
    head, _, body = output.partition(b"\r\n\r\n")
    if not _:
        head, _, body = output.partition(b"\n\n")
    status = 200
    headers = []
    for line in head.decode("latin-1").splitlines():
        name, _, value = line.partition(":")
        if name.lower() == "status":
            status = int(value.strip().split()[0])
        elif name:
            headers.append((name.strip(), value.strip()))
    return status, headers, body


class Handler(BaseHTTPRequestHandler):
    server_version = "racetrack-dev-sources/1"
    config: Config

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - base signature
        sys.stderr.write(f"{self.address_string()} {format % args}\n")

    def do_GET(self) -> None:
        if self.path.startswith("/wheels"):
            self._wheels()
        else:
            self._git()

    def do_HEAD(self) -> None:
        self.do_GET()

    def do_POST(self) -> None:
        self._git()

    def _git(self) -> None:
        path, _, query = self.path.partition("?")
        found = repository_of(urllib.parse.unquote(path))
        if found is None:
            self._plain(HTTPStatus.NOT_FOUND, "no such repository\n")
            return
        name, rest = found
        if name.startswith("private/") and not self._authorized():
            self.send_response(HTTPStatus.UNAUTHORIZED)
            self.send_header("WWW-Authenticate", 'Basic realm="racetrack dev git"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        repository = self.config.git_root / name
        pushing = "git-receive-pack" in query or rest.endswith("git-receive-pack")
        if not repository.is_dir():
            if not pushing:
                self._plain(HTTPStatus.NOT_FOUND, f"repository {name} not found\n")
                return
            repository.parent.mkdir(parents=True, exist_ok=True)
            subprocess.run(
                ["git", "init", "--quiet", "--bare", "--initial-branch=main", str(repository)],
                check=True,
            )
        body = self._body()
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "GIT_PROJECT_ROOT": str(self.config.git_root),
            "GIT_HTTP_EXPORT_ALL": "1",
            # http-backend only accepts pushes from an authenticated user; here everyone is.
            "REMOTE_USER": GIT_USER,
            "REMOTE_ADDR": self.client_address[0],
            "REQUEST_METHOD": self.command,
            "PATH_INFO": f"/{name}{rest}",
            "QUERY_STRING": query,
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(body)),
            "GIT_PROTOCOL": self.headers.get("Git-Protocol", ""),
            "HTTP_CONTENT_ENCODING": self.headers.get("Content-Encoding", ""),
        }
        result = subprocess.run(
            ["git", "http-backend"], input=body, env=env, capture_output=True, check=False
        )
        if result.returncode != 0 and not result.stdout:
            self._plain(HTTPStatus.INTERNAL_SERVER_ERROR, result.stderr.decode(errors="replace"))
            return
        status, headers, payload = cgi_response(result.stdout)
        self.send_response(status)
        for header, value in headers:
            self.send_header(header, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _authorized(self) -> bool:
        header = self.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except ValueError:
            return False
        return user == GIT_USER and hmac.compare_digest(password, self.config.password)

    def _wheels(self) -> None:
        relative = urllib.parse.unquote(self.path.partition("?")[0]).removeprefix("/wheels")
        name = relative.strip("/")
        if not name:
            files = sorted(p.name for p in self.config.wheels.glob("*") if p.is_file())
            links = "".join(
                f'<a href="{urllib.parse.quote(f)}">{html.escape(f)}</a><br>\n' for f in files
            )
            self._plain(HTTPStatus.OK, f"<html><body>\n{links}</body></html>\n", "text/html")
            return
        target = self.config.wheels / name
        if "/" in name or not target.is_file():
            self._plain(HTTPStatus.NOT_FOUND, "no such file\n")
            return
        data = target.read_bytes()
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _plain(self, status: int, text: str, content_type: str = "text/plain") -> None:
        data = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", f"{content_type}; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)


def serve(address: str, port: int, cert: Path, key: Path, config: Config) -> None:
    handler = type("ConfiguredHandler", (Handler,), {"config": config})
    server = ThreadingHTTPServer((address, port), handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    server.serve_forever()


def argv(address: str, port: int, cert: Path, key: Path, git_root: Path, wheels: Path,
         password_file: Path) -> list[str]:  # fmt: skip
    return [
        sys.executable, "-m", "racetrack_devcluster.realnode.sourceserver",
        f"--address={address}", f"--port={port}", f"--cert={cert}", f"--key={key}",
        f"--git-root={git_root}", f"--wheels={wheels}", f"--password-file={password_file}",
    ]  # fmt: skip


def main(args: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="racetrack_devcluster.realnode.sourceserver")
    parser.add_argument("--address", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--cert", type=Path, required=True)
    parser.add_argument("--key", type=Path, required=True)
    parser.add_argument("--git-root", type=Path, required=True)
    parser.add_argument("--wheels", type=Path, required=True)
    parser.add_argument("--password-file", type=Path, required=True)
    options = parser.parse_args(args)
    options.git_root.mkdir(parents=True, exist_ok=True)
    options.wheels.mkdir(parents=True, exist_ok=True)
    config = Config(options.git_root, options.wheels, options.password_file.read_text().strip())
    serve(options.address, options.port, options.cert, options.key, config)
    return 0


if __name__ == "__main__":
    sys.exit(main())
