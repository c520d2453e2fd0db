"""Serving certificates that renew without a restart.

cert-manager renews a certificate by rewriting the mounted Secret (kubelet swaps a symlink);
the dev cluster rewrites the files. Both are noticed by comparing the files' contents every
few seconds, and the pair is loaded into the running server's SSL context: handshakes from
then on present the new certificate, connections already open keep theirs. A half-written or
mismatched pair is not loaded (it is tried again at the next check); the old one stays in use.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import ssl
from pathlib import Path

log = logging.getLogger(__name__)


class CertificateReloader:
    def __init__(self, context: ssl.SSLContext, cert: Path, key: Path) -> None:
        self.context = context
        self.cert = cert
        self.key = key
        self.loaded = self._fingerprint()
        self.reloads = 0

    def _fingerprint(self) -> str:
        digest = hashlib.sha256()
        for path in (self.cert, self.key):
            try:
                digest.update(path.read_bytes())
            except OSError:
                digest.update(b"missing")
        return digest.hexdigest()

    def check(self) -> bool:
        """Load the files if they changed; True when a new pair is in use."""
        current = self._fingerprint()
        if current == self.loaded:
            return False
        try:
            # Tried on a scratch context first: OpenSSL swaps the certificate in before it
            # finds that the key does not match, and a live context would be left with a
            # pair that fails every handshake.
            ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(str(self.cert), str(self.key))
            self.context.load_cert_chain(str(self.cert), str(self.key))
        except (ssl.SSLError, OSError) as error:
            log.warning("Loading the renewed certificate %s failed (%s); keeping the old one.",
                        self.cert, error)  # fmt: skip
            return False
        self.loaded = current
        self.reloads += 1
        log.info("Loaded the renewed serving certificate %s.", self.cert)
        return True

    async def run(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            self.check()
