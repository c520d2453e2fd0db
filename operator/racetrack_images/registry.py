"""A client for the OCI distribution API (the registry), with the standard library only.

It does what image builds need and no more: ask whether a blob or a manifest is there, mount
a blob from another repository of the same registry (``POST .../blobs/uploads/?mount=``, so
a base image's layers are linked, never uploaded again), upload a blob, read and write
manifests. Build pods run it, so it depends on nothing outside the standard library.

Errors carry the HTTP status (0 when no answer came) so callers can tell what retrying may
fix (no answer, 5xx, 429) from what it cannot (401, 403, 404, a manifest the registry
refuses).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import ssl
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

MANIFEST_TYPE = "application/vnd.oci.image.manifest.v1+json"
INDEX_TYPE = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST_TYPE = "application/vnd.docker.distribution.manifest.v2+json"
_DOCKER_LIST_TYPE = "application/vnd.docker.distribution.manifest.list.v2+json"
_ACCEPT = ", ".join((MANIFEST_TYPE, DOCKER_MANIFEST_TYPE))
_CHUNK = 1 << 20
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")


class RegistryError(RuntimeError):
    """The registry refused a request, or did not answer; ``status`` 0 means no answer."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status

    @property
    def transient(self) -> bool:
        """Whether trying again later may succeed (no answer, overload, a server error)."""
        return self.status == 0 or self.status == 429 or self.status >= 500


@dataclass(frozen=True)
class Reference:
    """``registry/repository[:tag][@digest]`` split into its parts.

    The first component is the registry (``127.0.0.1:5000``, ``registry.example.org``);
    references without one (``library/python``) are refused, as there is no default
    registry here.
    """

    registry: str
    repository: str
    tag: str | None = None
    digest: str | None = None

    @classmethod
    def parse(cls, text: str) -> Reference:
        rest, _, digest = text.partition("@")
        registry, slash, path = rest.partition("/")
        if (
            not slash
            or not path
            or not ("." in registry or ":" in registry or registry == "localhost")
        ):
            raise ValueError(f"{text!r} must start with a registry, e.g. registry.example.org/repo")
        repository, tag = path, None
        last = path.rsplit("/", 1)[-1]
        if ":" in last:
            repository, _, tag = path.rpartition(":")
        if digest and not _DIGEST.match(digest):
            raise ValueError(f"{text!r}: the digest must be sha256: and 64 hex digits")
        if tag is not None and not _TAG.match(tag):
            raise ValueError(f"{text!r}: {tag!r} is not a valid tag")
        if not re.fullmatch(r"[a-z0-9]+(?:[._-]+[a-z0-9]+|/[a-z0-9]+)*", repository):
            raise ValueError(f"{text!r}: {repository!r} is not a valid repository name")
        if tag is None and not digest:
            raise ValueError(f"{text!r} needs a :tag or an @sha256: digest")
        return cls(registry, repository, tag, digest or None)

    @property
    def reference(self) -> str:
        """What goes after ``/manifests/``: the digest when there is one, else the tag."""
        return self.digest or str(self.tag)

    def with_digest(self, digest: str) -> Reference:
        return Reference(self.registry, self.repository, self.tag, digest)

    def __str__(self) -> str:
        tag = f":{self.tag}" if self.tag else ""
        digest = f"@{self.digest}" if self.digest else ""
        return f"{self.registry}/{self.repository}{tag}{digest}"


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


class Registry:
    """One registry, reached at ``base_url`` (``https://host`` or ``http://host:port``)."""

    def __init__(
        self,
        base_url: str,
        *,
        ca_file: str | None = None,
        credentials: tuple[str, str] | None = None,
        timeout: float = 300.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._context = ssl.create_default_context(cafile=ca_file) if ca_file else None
        self._authorization = None
        if credentials is not None:
            token = base64.b64encode(f"{credentials[0]}:{credentials[1]}".encode()).decode()
            self._authorization = f"Basic {token}"

    # -- manifests -----------------------------------------------------------------------

    def manifest(self, repository: str, reference: str) -> tuple[str, bytes] | None:
        """The manifest's digest and bytes, or None when the registry has none by that name."""
        try:
            with self._open(
                "GET", f"/v2/{repository}/manifests/{reference}", accept=_ACCEPT
            ) as answer:
                body = answer.read()
        except RegistryError as error:
            if error.status == 404:
                return None
            raise
        return digest_of(body), body

    def manifest_digest(self, repository: str, reference: str) -> str | None:
        """The digest a tag names (of an image or an index), or None when it names nothing."""
        accept = ", ".join((MANIFEST_TYPE, DOCKER_MANIFEST_TYPE, INDEX_TYPE, _DOCKER_LIST_TYPE))
        try:
            with self._open(
                "HEAD", f"/v2/{repository}/manifests/{reference}", accept=accept
            ) as answer:
                digest = answer.headers.get("Docker-Content-Digest")
        except RegistryError as error:
            if error.status == 404:
                return None
            raise
        if digest is None or not _DIGEST.match(digest):
            found = self.manifest(repository, reference)
            return None if found is None else found[0]
        return str(digest)

    def has_manifest(self, repository: str, reference: str) -> bool:
        try:
            with self._open("HEAD", f"/v2/{repository}/manifests/{reference}", accept=_ACCEPT):
                return True
        except RegistryError as error:
            if error.status == 404:
                return False
            raise

    def put_manifest(
        self, repository: str, reference: str, body: bytes, media_type: str = MANIFEST_TYPE
    ) -> str:
        """Store a manifest under a tag (or its digest); returns its digest."""
        path = f"/v2/{repository}/manifests/{reference}"
        with self._open("PUT", path, body, content_type=media_type) as answer:
            answer.read()
        return digest_of(body)

    def delete_manifest(self, repository: str, digest: str) -> bool:
        """Delete a manifest by digest, with every tag naming it; False when it was gone.

        The registry must allow deletes (distribution: ``storage.delete.enabled``); its blobs
        stay on disk until the registry's garbage collection removes what nothing references.
        """
        if not _DIGEST.match(digest):
            raise ValueError(f"{digest!r}: manifests are deleted by sha256: digest")
        try:
            with self._open("DELETE", f"/v2/{repository}/manifests/{digest}") as answer:
                answer.read()
        except RegistryError as error:
            if error.status == 404:
                return False
            raise
        return True

    # -- listing -------------------------------------------------------------------------

    def repositories(self) -> list[str]:
        """Every repository of the registry (its catalog), page by page."""
        return self._paged("/v2/_catalog?n=1000", "repositories")

    def tags(self, repository: str) -> list[str]:
        """The tags of a repository; none when the registry does not know it."""
        try:
            return self._paged(f"/v2/{repository}/tags/list?n=1000", "tags")
        except RegistryError as error:
            if error.status == 404:
                return []
            raise

    def _paged(self, path: str, key: str) -> list[str]:
        found: list[str] = []
        next_path: str | None = path
        while next_path is not None:
            with self._open("GET", next_path, accept="application/json") as answer:
                link = answer.headers.get("Link", "")
                body = answer.read()
            try:
                found.extend(json.loads(body).get(key) or [])
            except (ValueError, AttributeError) as error:
                raise RegistryError(
                    f"GET {self.base_url}{next_path.split('?')[0]} answered no JSON list"
                ) from error
            next_path = _next_page(link)
        return found

    # -- blobs ---------------------------------------------------------------------------

    def has_blob(self, repository: str, digest: str) -> bool:
        try:
            with self._open("HEAD", f"/v2/{repository}/blobs/{digest}"):
                return True
        except RegistryError as error:
            if error.status == 404:
                return False
            raise

    def blob(self, repository: str, digest: str) -> bytes:
        with self._open("GET", f"/v2/{repository}/blobs/{digest}") as answer:
            data: bytes = answer.read()
        if digest_of(data) != digest:
            raise RegistryError(f"blob {digest} of {repository} arrived with another digest")
        return data

    def download_blob(self, repository: str, digest: str, target: Path) -> None:
        """Stream a blob into ``target``, checking its digest on the way."""
        hashing = hashlib.sha256()
        with (
            self._open("GET", f"/v2/{repository}/blobs/{digest}") as answer,
            target.open("wb") as out,
        ):
            for chunk in iter(lambda: answer.read(_CHUNK), b""):
                hashing.update(chunk)
                out.write(chunk)
        if "sha256:" + hashing.hexdigest() != digest:
            target.unlink(missing_ok=True)
            raise RegistryError(f"blob {digest} of {repository} arrived with another digest")

    def upload_blob(self, repository: str, digest: str, source: bytes | Path) -> bool:
        """Upload a blob unless the repository has it; whether anything was sent."""
        if self.has_blob(repository, digest):
            return False
        location = self._start_upload(repository, "")
        self._finish_upload(location, digest, source)
        return True

    def mount_blob(self, repository: str, digest: str, source_repository: str) -> bool:
        """Link a blob from another repository of this registry, without sending its bytes.

        True when linked (or already there). False when the registry would not mount it
        (the source lacks it, or the registry does not mount), then nothing was changed.
        """
        if self.has_blob(repository, digest):
            return True
        query = urllib.parse.urlencode({"mount": digest, "from": source_repository})
        with self._open("POST", f"/v2/{repository}/blobs/uploads/?{query}", b"") as answer:
            status, location = answer.status, answer.headers.get("Location", "")
        if status == 201:
            return True
        # 202: the registry opened an ordinary upload instead; close it unused.
        if location:
            try:
                with self._open("DELETE", self._relative(location)):
                    pass
            except RegistryError:
                pass
        return False

    def link_blob(self, repository: str, digest: str, source_repository: str) -> None:
        """Make a blob of ``source_repository`` part of ``repository``: mounted when the
        registry can, otherwise streamed through this process (never held in memory)."""
        if self.mount_blob(repository, digest, source_repository):
            return
        location = self._start_upload(repository, "")
        with self._open("GET", f"/v2/{source_repository}/blobs/{digest}") as answer:
            size = answer.headers.get("Content-Length")
            self._finish_upload(location, digest, answer, size=int(size) if size else None)

    # -- internals -----------------------------------------------------------------------

    def _start_upload(self, repository: str, query: str) -> str:
        with self._open("POST", f"/v2/{repository}/blobs/uploads/{query}", b"") as answer:
            location = answer.headers.get("Location")
        if not location:
            raise RegistryError(f"the registry opened an upload to {repository} without a Location")
        return self._relative(location)

    def _finish_upload(
        self, location: str, digest: str, source: bytes | Path | IO[bytes], size: int | None = None
    ) -> None:
        separator = "&" if "?" in location else "?"
        path = f"{location}{separator}digest={urllib.parse.quote(digest)}"
        if isinstance(source, Path):
            with source.open("rb") as body:
                self._put_stream(path, body, source.stat().st_size)
        elif isinstance(source, bytes):
            self._put_stream(path, source, len(source))
        else:
            self._put_stream(path, source, size)

    def _put_stream(self, path: str, body: bytes | IO[bytes], size: int | None) -> None:
        headers = {"Content-Type": "application/octet-stream"}
        if size is not None:
            headers["Content-Length"] = str(size)
        with self._open("PUT", path, body, headers=headers) as answer:
            answer.read()

    def _relative(self, location: str) -> str:
        """A Location header as a path on this registry (registries answer either form)."""
        parsed = urllib.parse.urlsplit(location)
        return parsed.path + (f"?{parsed.query}" if parsed.query else "")

    def _open(
        self,
        method: str,
        path: str,
        body: bytes | IO[bytes] | None = None,
        *,
        accept: str | None = None,
        content_type: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> Any:
        all_headers = dict(headers or {})
        if accept:
            all_headers["Accept"] = accept
        if content_type:
            all_headers["Content-Type"] = content_type
        if self._authorization:
            all_headers["Authorization"] = self._authorization
        request = urllib.request.Request(
            self.base_url + path, data=body, method=method, headers=all_headers
        )
        try:
            return urllib.request.urlopen(request, timeout=self.timeout, context=self._context)
        except urllib.error.HTTPError as error:
            answer = error.read()[:400].decode(errors="replace").strip()
            raise RegistryError(
                f"{method} {self.base_url}{path.split('?')[0]} answered {error.code}"
                + (f": {_short(answer)}" if answer else ""),
                error.code,
            ) from error
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise RegistryError(
                f"{method} {self.base_url}{path.split('?')[0]} failed: {reason}"
            ) from error


def _next_page(link: str) -> str | None:
    """The path of the next page from a ``Link: </v2/...>; rel="next"`` header, if any."""
    match = re.match(r'\s*<([^>]+)>\s*;\s*rel="?next"?', link)
    if match is None:
        return None
    parsed = urllib.parse.urlsplit(match.group(1))
    return parsed.path + (f"?{parsed.query}" if parsed.query else "")


def _short(answer: str) -> str:
    """A registry's JSON error body as its messages, else the text."""
    try:
        errors = json.loads(answer).get("errors") or []
        return "; ".join(f"{e.get('code')}: {e.get('message')}" for e in errors) or answer
    except (ValueError, AttributeError):
        return answer
