"""The interactive docs page: Swagger UI served from the ``swagger-ui-bundle`` package.

Job images (and these development machines) may have no internet access, so the page must
not load anything from a CDN: the CSS and JS come from the wheel's vendored Swagger UI
build and are served by the runtime itself under ``/docs/assets/``.

All URLs in the page are relative (``docs/assets/...``, ``openapi.json``), so the page
works unchanged at ``/docs`` and under ``/pub/job/<name>/<version>/docs`` behind the
gateway. The asset set is a fixed allow-list: no path from the request reaches the file
system.
"""

from __future__ import annotations

import functools
import html
import importlib.resources
import json
from importlib.resources.abc import Traversable

ASSETS: dict[str, str] = {
    "swagger-ui.css": "text/css; charset=utf-8",
    "swagger-ui-bundle.js": "application/javascript; charset=utf-8",
    "favicon-32x32.png": "image/png",
}

_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>{title}</title>
  <link rel="stylesheet" type="text/css" href="docs/assets/swagger-ui.css">
  <link rel="icon" type="image/png" href="docs/assets/favicon-32x32.png">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="docs/assets/swagger-ui-bundle.js"></script>
  <script>
    window.ui = SwaggerUIBundle({{
      url: {spec_url},
      dom_id: "#swagger-ui",
      deepLinking: true,
      presets: [SwaggerUIBundle.presets.apis],
      layout: "BaseLayout"
    }});
  </script>
</body>
</html>
"""


@functools.cache
def _vendor_dir() -> Traversable:
    vendor = importlib.resources.files("swagger_ui_bundle") / "vendor"
    for child in vendor.iterdir():
        if child.name.startswith("swagger-ui") and child.is_dir():
            return child
    raise FileNotFoundError("swagger-ui-bundle ships no swagger-ui directory")


def page(title: str) -> str:
    """The HTML page; the document is fetched from the relative URL ``openapi.json``."""
    return _PAGE.format(title=html.escape(title), spec_url=json.dumps("openapi.json"))


@functools.cache
def asset(name: str) -> bytes | None:
    """Bytes of an allowed asset, or ``None`` for any other name."""
    if name not in ASSETS:
        return None
    return (_vendor_dir() / name).read_bytes()
