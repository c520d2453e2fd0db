"""Just enough of the Kubernetes API, over the admin client certificate, to bring a cluster up.

The launcher avoids the full Kubernetes client so that ``racetrack dev up`` starts fast.
"""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

from racetrack_devcluster import pki


def http_ok(url: str) -> bool:
    with urllib.request.urlopen(url, timeout=2) as response:
        return bool(response.status == 200)


def secure_healthz(port: int) -> Callable[[], bool]:
    """A probe of a controller's ``/healthz`` on its self-signed loopback port (the path is
    open to anonymous requests by default)."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    url = f"https://127.0.0.1:{port}/healthz"

    def probe() -> bool:
        with urllib.request.urlopen(url, timeout=2, context=context) as response:
            return bool(response.status == 200)

    return probe


class ApiServerClient:
    """The admin's view of one API server."""

    def __init__(self, server: str, certs: pki.ClusterPKI) -> None:
        self.server = server
        self.context = ssl.create_default_context(cafile=str(certs.ca.cert))
        self.context.load_cert_chain(str(certs.admin.cert), str(certs.admin.key))

    def _request(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            self.server + path,
            data=data,
            method=method,
            headers={"Content-Type": "application/json", "Accept": "application/json"},
        )
        with urllib.request.urlopen(request, context=self.context, timeout=5) as response:
            payload = response.read()
        return json.loads(payload) if payload.startswith(b"{") else payload.decode()

    def ready(self) -> bool:
        return bool(self._request("GET", "/readyz") == "ok")

    def exists(self, path: str) -> bool:
        try:
            self._request("GET", path)
        except urllib.error.HTTPError as error:
            if error.code == 404:
                return False
            raise
        return True

    def create_if_missing(self, collection: str, manifest: dict[str, Any]) -> None:
        try:
            self._request("POST", collection, manifest)
        except urllib.error.HTTPError as error:
            if error.code != 409:
                raise

    def delete(self, path: str) -> None:
        """Delete the object at ``path``; one that does not exist is fine."""
        try:
            self._request("DELETE", path)
        except urllib.error.HTTPError as error:
            if error.code != 404:
                raise

    def node_has_address(self, name: str, address: str) -> bool:
        node = self._request("GET", f"/api/v1/nodes/{name}")
        addresses = node.get("status", {}).get("addresses", [])
        return any(a.get("type") == "InternalIP" and a.get("address") == address for a in addresses)

    def node_ready(self, name: str) -> bool:
        node = self._request("GET", f"/api/v1/nodes/{name}")
        conditions = node.get("status", {}).get("conditions", [])
        return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)
