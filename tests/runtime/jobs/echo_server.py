"""A user's server for proxy tests: answers what it received (HTTP/1.1, kept alive).

``/status/<code>`` answers that code, ``/redirect?to=<location>`` a 302 there,
``/slow?seconds=<s>`` after a pause; everything else echoes the request as JSON.
Run as ``python echo_server.py PORT``.
"""

from __future__ import annotations

import json
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


class Echo(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def handle_any(self) -> None:
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        size = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(size).decode()
        if url.path.startswith("/status/"):
            return self.answer(int(url.path.rsplit("/", 1)[1]), {"status": "as asked"})
        if url.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", query["to"][0])
            self.send_header("Content-Length", "0")
            self.end_headers()
            return None
        if url.path == "/slow":
            time.sleep(float(query["seconds"][0]))
        self.answer(
            200,
            {
                "method": self.command,
                "path": url.path,
                "query": url.query,
                "headers": {k.lower(): v for k, v in self.headers.items()},
                "body": body,
            },
        )

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = handle_any

    def answer(self, status: int, payload: object) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("X-Echo", "yes")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (the base's name)
        pass


if __name__ == "__main__":
    ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Echo).serve_forever()
