"""The agent's own HTTP endpoints: ``/live``, ``/ready`` and ``/metrics`` (a small threaded
server from the standard library, off the event loop)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST


def serve(
    host: str, port: int, ready: Callable[[], bool], registry: CollectorRegistry
) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/live":
                self._answer(200, b'{"live": true}', "application/json")
            elif self.path == "/ready":
                ok = ready()
                body = b'{"ready": true}' if ok else b'{"ready": false}'
                self._answer(200 if ok else 503, body, "application/json")
            elif self.path == "/metrics":
                self._answer(200, generate_latest(registry), CONTENT_TYPE_LATEST)
            else:
                self._answer(404, b'{"error": "not found"}', "application/json")

        def _answer(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass  # probes every few seconds are not news

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="gateway-http", daemon=True).start()
    return server
