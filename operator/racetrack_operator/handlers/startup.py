"""kopf settings and the shared reconcile context.

Every setting we change from kopf's default says which problem it solves.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import itertools
import logging
import socket
from collections.abc import Iterator
from typing import Any

import kopf

from racetrack_kube.client import Kube, load_api_client
from racetrack_operator import metrics
from racetrack_operator.handlers.storage import NoDiffBase
from racetrack_operator.reconcile import build as builds
from racetrack_operator.reconcile import events, jobwatch, watches
from racetrack_operator.reconcile.context import Context
from racetrack_operator.reconcile.job import family_token_changed, job_event
from racetrack_operator.reconcile.jobqueue import JobQueue
from racetrack_operator.reconcile.purge import purge_timer
from racetrack_operator.settings import Settings

PREFIX = "operator.racetrack.io"
FINALIZER = "racetrack.io/finalizer"
EVENT_SOURCE = events.SOURCE

log = logging.getLogger(__name__)

#: New container objects (dicts, lists) between two collections of CPython's youngest
#: generation; its default is 700. The operator decodes thousands of API objects a minute,
#: a hundred containers or more each, and keeps many for a while (watch events queued for a
#: worker, models, views): at 700 the collector ran every few objects decoded and traversed
#: each survivor again as it aged.
GC_YOUNG_THRESHOLD = 50_000


class EndlessRetries:
    """The delays kopf waits between attempts of a failed API request: doubling up to
    ``cap``, then ``cap`` for ever.

    kopf's default (1, 1, 2, ... 21 s, then give up) has two faults seen with a real API
    server. After an outage the watches sleep out their current delay, up to 21 s, before they
    look again: a Job applied just after an API server came back was Ready only a minute
    later. And a list or watch that keeps failing with a 5xx (etcd gone) for longer than the
    sum escalates and ends that kind's watcher for good, while the operator stays up and
    blind. client-go's reflectors never give up either. Not ``Sized``: kopf then never
    counts attempts and never escalates.
    """

    def __init__(self, cap: float) -> None:
        self.cap = cap

    def __iter__(self) -> Iterator[float]:
        doubling = itertools.takewhile(
            lambda delay: delay < self.cap, (0.5 * 2**n for n in range(16))
        )
        return itertools.chain(doubling, itertools.repeat(self.cap))


def tune_garbage_collector() -> None:
    """Collect the youngest generation less often (see ``GC_YOUNG_THRESHOLD``); the older
    generations keep CPython's ratios to it."""
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, older, oldest)


def configure(settings: kopf.OperatorSettings, operator_settings: Settings) -> None:
    # Our own finalizer name, so `kubectl get -o yaml` says who holds an object. No handler
    # needs one today: children go with their Job by ownerReferences (garbage collection) and
    # families learn of deletions from the watch, so deleting a Job never waits on us.
    settings.persistence.finalizer = FINALIZER
    # kopf's progress storage goes into our own annotations, never into status.kopf, which
    # our structural status schema would prune. Our handlers are watch handlers and store
    # nothing today (see reconcile.jobwatch); this keeps any future retrying handler from writing
    # under kopf's names. The prefix is a subdomain of racetrack.io, not racetrack.io itself:
    # kopf treats every annotation under its storage prefix as its own bookkeeping.
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=PREFIX)
    # No diff base: kopf would deep-copy every body on every event for handlers we do not
    # have (see handlers.storage).
    settings.persistence.diffbase_storage = NoDiffBase()
    # Bounded memory when thousands of objects change at once (see Settings.object_workers).
    # An object's worker keeps its slot until it has been idle this long, so the slots pass
    # at most worker_limit / idle_timeout objects a second: kopf's 5 s allows twenty, 0.5 s
    # two hundred (a restart over 5,000 Ready Jobs then took over 30 s, the CPU idle about
    # half of it). A worker is cheap to start again when its object's next event comes.
    settings.queueing.worker_limit = operator_settings.object_workers
    settings.queueing.idle_timeout = 0.05
    # Watches and lists retry for as long as the API server is away (see EndlessRetries), and
    # a connection attempt to one that vanished without refusing gives up after 10 s instead
    # of aiohttp's 5 minutes, so the next attempt comes soon.
    settings.networking.error_backoffs = EndlessRetries(operator_settings.api_retry_seconds)
    settings.networking.connect_timeout = 10.0
    # Only the events we post explicitly (Ready, Stalled, Recovered, DeploymentUpdated) reach
    # `kubectl describe`; handler log lines and retries would drown them.
    settings.posting.loggers = False
    settings.posting.level = logging.INFO
    # `kubectl describe` shows an event's source in its "From" column and `kubectl get events`
    # its name: say racetrack-operator (and which pod), not kopf's defaults ("kopf", "dev").
    settings.posting.reporting_component = EVENT_SOURCE
    settings.posting.reporting_instance = socket.gethostname()
    settings.posting.event_name_prefix = f"{EVENT_SOURCE}-"
    # kopf logs every successful handler call at INFO: thousands of lines per minute with many
    # Jobs. Our own modules log what happened (created, updated, stalled); kopf's warnings and
    # errors still show.
    logging.getLogger("kopf.objects").setLevel(logging.WARNING)


@kopf.on.startup(id="racetrack-startup")
async def startup(
    settings: kopf.OperatorSettings, memo: kopf.Memo, logger: kopf.Logger, **_: Any
) -> None:
    operator_settings = Settings.from_env()
    configure(settings, operator_settings)
    tune_garbage_collector()
    # Here rather than in __main__, so `kopf run -m racetrack_operator.handlers` has them too.
    port = metrics.serve(operator_settings.metrics_port)
    logger.info("Serving metrics on port %d.", port)
    workers = operator_settings.api_concurrency
    kube = Kube(
        load_api_client(workers, EVENT_SOURCE), workers, observe=_count_request, on_loop=True
    )
    ctx = Context(kube, operator_settings)
    ctx.identity.family_token_changed = functools.partial(family_token_changed, ctx)
    # Before any Job asks for a build slot: the builds already running take theirs.
    for build in await builds.running_builds(ctx.kube, operator_settings.namespaces):
        ctx.builds.seen_running(build)
    ctx.job_queue = JobQueue(functools.partial(job_event, ctx), operator_settings.object_workers)
    ctx.job_queue.start()
    memo.ctx = ctx
    # Before kopf's watches start: no subject is reconciled without the key and its Secrets.
    await watches.start(ctx, kube)
    # After the Deployments' and Services' watches have listed (watches.start waits for them).
    jobwatch.start(ctx, kube)
    ctx.timers.append(asyncio.get_running_loop().create_task(purge_timer(ctx)))
    scope = ", ".join(operator_settings.watched_namespaces) or "all namespaces"
    logger.info(
        "Racetrack operator started, watching %s; platform namespace %s.",
        scope,
        operator_settings.platform_namespace,
    )


@kopf.on.cleanup(id="racetrack-cleanup")
async def cleanup(memo: kopf.Memo, **_: Any) -> None:
    ctx: Context | None = memo.get("ctx")
    if ctx is not None:
        ctx.identity.cancel()
        if ctx.job_queue is not None:
            ctx.job_queue.cancel()
        for task in list(ctx.background):
            task.cancel()
        for timer in ctx.timers:
            timer.cancel()
        if ctx.family_syncs is not None:
            ctx.family_syncs.cancel()
        ctx.requeue.cancel_all()
        await ctx.kube.aclose()


def _count_request(method: str, code: str) -> None:
    metrics.API_REQUESTS.labels(method, code).inc()


def context(memo: kopf.Memo) -> Context:
    ctx: Context = memo.ctx
    return ctx
