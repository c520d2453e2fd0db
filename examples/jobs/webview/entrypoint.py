"""A guestbook: web pages served by the job itself, as a plain WSGI application.

``webview_app(base_url)`` returns any WSGI callable (a Flask app's ``wsgi_app`` works the
same); the runtime serves it under ``/api/v1/webview/`` and hands it paths that start with
``base_url``, the address the pages have behind the gateway, so links built from it work
there. ``static/style.css`` is served at ``<base_url>/static/style.css``.

``perform`` signs the book too, so programs and people share the same entries.
"""

from __future__ import annotations

import html
import json
import threading
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs

StartResponse = Callable[[str, list[tuple[str, str]]], Any]


class Guestbook:
    def __init__(self) -> None:
        self.entries: list[str] = []
        self.lock = threading.Lock()

    def perform(self, name: str) -> int:
        """Sign the guestbook; answers how many entries it has."""
        with self.lock:
            self.entries.append(name)
            return len(self.entries)

    def webview_app(
        self, base_url: str
    ) -> Callable[[dict[str, Any], StartResponse], Iterable[bytes]]:
        def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
            path = environ["PATH_INFO"]
            method = environ["REQUEST_METHOD"]
            if path == f"{base_url}/" and method == "GET":
                return self._page(base_url, start_response)
            if path == f"{base_url}/sign" and method == "POST":
                size = int(environ.get("CONTENT_LENGTH") or 0)
                form = parse_qs(environ["wsgi.input"].read(size).decode())
                self.perform(form.get("name", ["anonymous"])[0])
                start_response("303 See Other", [("Location", f"{base_url}/")])
                return [b""]
            if path == f"{base_url}/entries.json":
                start_response("200 OK", [("Content-Type", "application/json")])
                return [json.dumps(self.entries).encode()]
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [f"no page {path}".encode()]

        return app

    def _page(self, base_url: str, start_response: StartResponse) -> list[bytes]:
        with self.lock:
            items = "".join(f"<li>{html.escape(name)}</li>" for name in self.entries)
        page = (
            "<!DOCTYPE html><html><head><title>Guestbook</title>"
            f'<link rel="stylesheet" href="{base_url}/static/style.css"></head><body>'
            f"<h1>Guestbook</h1><ul>{items}</ul>"
            f'<form method="post" action="{base_url}/sign">'
            '<input name="name" placeholder="Your name"><button>Sign</button></form>'
            "</body></html>"
        )
        start_response("200 OK", [("Content-Type", "text/html; charset=utf-8")])
        return [page.encode()]
