"""A job that uses a secret from its environment without ever revealing it.

``SIGNING_KEY`` comes from the manifest's ``secret_runtime_env_file`` (in the cluster: a
Secret injected as an environment variable), ``KEY_ID`` from its plain ``runtime_env``.
``perform`` signs a message with the key (HMAC SHA-256) and names the key by its id; the
key itself never appears in answers or logs.
"""

from __future__ import annotations

import hashlib
import hmac
import os


class MessageSigner:
    def __init__(self) -> None:
        key = os.environ.get("SIGNING_KEY", "")
        if not key:
            raise RuntimeError("SIGNING_KEY is not set: add it to the job's runtime secrets")
        self._key = key.encode()
        self._key_id = os.environ.get("KEY_ID", "unnamed")

    def perform(self, message: str) -> dict[str, str]:
        """Sign `message` with the job's secret key (HMAC-SHA256, hex)."""
        digest = hmac.new(self._key, message.encode(), hashlib.sha256).hexdigest()
        return {"message": message, "signature": digest, "key_id": self._key_id}

    def docs_input_example(self) -> dict[str, str]:
        return {"message": "hello"}
