"""A test job that says which family token its pod received, without revealing it: the
sha256 of ``AUTH_TOKEN``, which its family's status publishes too."""

from __future__ import annotations

import hashlib
import os


class TokenDigest:
    def perform(self) -> dict[str, str]:
        token = os.environ.get("AUTH_TOKEN", "")
        return {"auth_token_sha256": hashlib.sha256(token.encode()).hexdigest() if token else ""}
