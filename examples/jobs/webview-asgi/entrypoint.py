"""A text previewer whose pages are an ASGI application (no framework needed).

An ASGI ``webview_app`` is mounted at ``/api/v1/webview``: it routes on the rest of the
path (``/``, ``/view``, ``/preview``) and builds its links and redirects from
``base_url``, the pages' address behind the gateway. A Starlette or FastAPI application
is an ASGI application too.

``perform`` renders the same preview for programs.
"""

from __future__ import annotations

import html
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs, quote

Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


def render(text: str) -> str:
    """Paragraphs from blank lines, `# ` lines as headings."""
    blocks = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        block = block.strip()
        if block.startswith("# "):
            blocks.append(f"<h2>{html.escape(block[2:])}</h2>")
        elif block:
            blocks.append(f"<p>{html.escape(block)}</p>")
    return "\n".join(blocks)


class TextPreview:
    def perform(self, text: str) -> str:
        """The HTML preview of `text`."""
        return render(text)

    def webview_app(
        self, base_url: str
    ) -> Callable[[dict[str, Any], Receive, Send], Awaitable[None]]:
        async def app(scope: dict[str, Any], receive: Receive, send: Send) -> None:
            route = scope["path"][len(scope.get("root_path", "")) :] or "/"
            if route == "/":
                await respond(send, 302, b"", [(b"location", f"{base_url}/view".encode())])
            elif route == "/view":
                query = parse_qs(scope["query_string"].decode())
                text = query.get("text", [""])[0]
                page = (
                    f'<form method="post" action="{base_url}/preview">'
                    f'<textarea name="text">{html.escape(text)}</textarea><button>Preview</button>'
                    f"</form><hr>{render(text)}"
                )
                await respond(send, 200, page.encode(), [(b"content-type", b"text/html")])
            elif route == "/preview" and scope["method"] == "POST":
                body = b""
                more = True
                while more:
                    message = await receive()
                    body += message.get("body", b"")
                    more = message.get("more_body", False)
                text = parse_qs(body.decode()).get("text", [""])[0]
                target = f"{base_url}/view?text={quote(text)}".encode()
                await respond(send, 302, b"", [(b"location", target)])
            else:
                await respond(send, 404, b"not found", [(b"content-type", b"text/plain")])

        return app


async def respond(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
