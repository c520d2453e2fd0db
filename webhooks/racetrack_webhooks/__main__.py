"""``python -m racetrack_webhooks``: the admission webhooks and the auditor, in one process.

Settings are ``RACETRACK_*`` environment variables (``racetrack_webhooks.settings``); the
Kubernetes credentials are $KUBECONFIG's, else the Pod's service account. The TLS server, the
watches, the certificate reloader, the Lease and the auditor share one event loop; SIGTERM
stops the server (uvicorn finishes the requests in flight), releases the Lease so another
replica audits at once, and stops everything else.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
import sys
from pathlib import Path
from types import FrameType

import uvicorn

from racetrack_kube.client import Kube, load_api_client
from racetrack_kube.lease import LeaseElector
from racetrack_webhooks import metrics
from racetrack_webhooks.auditor.writer import Auditor
from racetrack_webhooks.feed import Feed
from racetrack_webhooks.rules.world import World
from racetrack_webhooks.server.app import Admission, build_app
from racetrack_webhooks.server.tls import CertificateReloader
from racetrack_webhooks.settings import Settings, SettingsError

COMPONENT = "racetrack-webhooks"
LEASE = "racetrack-webhooks-auditor"
log = logging.getLogger(COMPONENT)


async def serve(settings: Settings) -> None:
    kube = Kube(load_api_client(settings.api_concurrency, COMPONENT), settings.api_concurrency)
    feed = Feed(kube, World(settings.platform_namespace))
    auditor = Auditor(kube, feed, settings)
    elector = LeaseElector(
        kube,
        settings.platform_namespace,
        LEASE,
        settings.identity,
        settings.lease_seconds,
        auditor.lead,
        auditor.lose,
        role="auditor",
        activity="auditing",
    )
    config = uvicorn.Config(
        build_app(Admission(kube, feed, settings)),
        host=settings.webhook_host,
        port=settings.webhook_port,
        ssl_certfile=settings.tls_cert_file,
        ssl_keyfile=settings.tls_key_file,
        log_level="warning",
        # The API server keeps connections to a webhook open; uvicorn's 5 s default would
        # close them between bursts and every burst would start with TLS handshakes.
        timeout_keep_alive=75,
    )
    config.load()
    assert config.ssl is not None
    quiet_garbage_collector()
    reloader = CertificateReloader(
        config.ssl, Path(settings.tls_cert_file), Path(settings.tls_key_file)
    )
    port = metrics.serve(settings.metrics_port)
    server = uvicorn.Server(config)

    def stop(signum: int, frame: FrameType | None) -> None:
        server.should_exit = True

    # uvicorn handles SIGTERM while it serves, then restores these handlers and raises the
    # signal again: with the default handler the process would end there, before the Lease is
    # released below.
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    async def elect() -> None:
        # Only a replica that knows the cluster competes for the Lease: taking it starts the
        # auditor's catch-up over every object, which needs the watches listed.
        await feed.wait_synced()
        quiet_garbage_collector()
        await elector.run()

    background = [
        asyncio.create_task(coroutine)
        for coroutine in (
            feed.run(),
            reloader.run(settings.tls_reload_seconds),
            elect(),
            auditor.run(),
        )
    ]
    log.info(
        "Racetrack webhooks serving TLS on %s:%d (metrics on port %d) as %s.",
        settings.webhook_host,
        settings.webhook_port,
        port,
        settings.identity,
    )
    try:
        await server.serve()
    finally:
        await elector.release()
        for task in background:
            task.cancel()
        await asyncio.gather(*background, return_exceptions=True)
        kube.close()


def quiet_garbage_collector() -> None:
    """Keep the cycle collector off what lives for good.

    A full collection walks every object: the Kubernetes client's classes and the watches'
    stores made them take 100 ms and more here, in the middle of admission answers. Frozen
    objects are skipped (watch-fed objects hold no cycles; refcounting still frees them), and
    a higher first threshold makes young collections rarer.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(10_000, 10, 10)


def main() -> int:
    try:
        settings = Settings.from_env()
    except SettingsError as error:
        print(f"{COMPONENT}: {error}", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    # uvloop (shipped with uvicorn where the platform has it) does TLS and the event loop in C:
    # the admission answers share one loop with the watches and the auditor.
    try:
        import uvloop
    except ImportError:
        asyncio.run(serve(settings))
    else:
        uvloop.run(serve(settings))
    return 0


if __name__ == "__main__":
    sys.exit(main())
