"""A user's own HTTP server (standard library only): what a docker-proxy job runs.

It serves its routes at the root, ``POST /perform`` and ``GET /stats``, on port 7001; the
job runtime's proxy in the same pod makes them ``/api/v1/perform`` and ``/api/v1/stats``.
``GET /old-stats`` redirects to ``/stats``, which the proxy rewrites so the redirect
stays behind the gateway.
"""

from __future__ import annotations

import json
import os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT = int(os.environ.get("JOB_USER_MODULE_PORT", "7001"))
counted = {"texts": 0}


class Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        if self.path != "/perform":
            return self.answer(404, {"error": f"no route {self.path}"})
        size = int(self.headers.get("Content-Length") or 0)
        params = json.loads(self.rfile.read(size) or b"{}")
        counted["texts"] += 1
        self.answer(200, len(str(params.get("text", "")).split()))

    def do_GET(self) -> None:
        if self.path == "/stats":
            return self.answer(200, counted)
        if self.path == "/old-stats":
            self.send_response(301)
            self.send_header("Location", f"http://localhost:{PORT}/stats")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return None
        self.answer(404, {"error": f"no route {self.path}"})

    def answer(self, status: int, body: object) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


if __name__ == "__main__":
    ThreadingHTTPServer(("0.0.0.0", PORT), Handler).serve_forever()
