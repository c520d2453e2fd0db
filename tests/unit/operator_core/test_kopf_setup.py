"""The kopf settings the operator relies on, and the handler shape that makes them safe."""

from __future__ import annotations

import gc
import itertools

import kopf

# Imported for its side effect: registering every handler with kopf's default registry.
from racetrack_operator import handlers  # noqa: F401
from racetrack_operator.handlers.startup import (
    FINALIZER,
    GC_YOUNG_THRESHOLD,
    EndlessRetries,
    configure,
    tune_garbage_collector,
)
from racetrack_operator.handlers.storage import NoDiffBase
from racetrack_operator.settings import Settings


def test_no_changing_handlers_while_the_diff_base_is_skipped() -> None:
    # NoDiffBase tells kopf that nothing ever changed. That is only true for watch handlers:
    # an on.create/on.update/on.resume (or a daemon/timer, whose idling uses the diff) added
    # later would never fire for changes. Replace NoDiffBase before adding one.
    registry = kopf.get_default_registry()
    assert [h.id for h in registry._changing.get_all_handlers()] == []
    assert [h.id for h in registry._spawning.get_all_handlers()] == []
    assert {h.id for h in registry._watching.get_all_handlers()} >= {"user", "permission"}


def test_no_diff_base_reports_no_essence_and_stores_nothing() -> None:
    storage = NoDiffBase()
    body = kopf.Body({"metadata": {"name": "a"}, "spec": {"x": 1}})
    patch = kopf.Patch()
    assert storage.build(body=body) == {}
    assert storage.fetch(body=body) is None
    storage.store(body=body, patch=patch, essence=storage.build(body=body))
    assert not patch


def test_configure_bounds_workers_and_uses_our_names() -> None:
    settings = kopf.OperatorSettings()
    configure(settings, Settings(object_workers=7))
    assert settings.queueing.worker_limit == 7
    assert settings.persistence.finalizer == FINALIZER
    assert isinstance(settings.persistence.diffbase_storage, NoDiffBase)
    assert settings.posting.loggers is False
    assert settings.posting.reporting_component == "racetrack-operator"
    assert settings.posting.event_name_prefix.startswith("racetrack-operator")


def test_worker_slots_pass_objects_faster_than_the_operator_handles_them() -> None:
    # A worker holds its slot until its object has been idle for idle_timeout, so the slots
    # pass at most worker_limit / idle_timeout objects a second whatever the CPU could do. A
    # restart handles a Ready Job in a few milliseconds of CPU: the slots must not be what
    # it waits for (at 200 a second, 5,000 Ready Jobs took 32 to 35 s, the CPU idle about
    # half of it).
    settings = kopf.OperatorSettings()
    configure(settings, Settings())
    assert settings.queueing.worker_limit is not None
    assert settings.queueing.worker_limit / settings.queueing.idle_timeout >= 1000


def test_watches_retry_an_absent_api_server_for_ever_and_often() -> None:
    settings = kopf.OperatorSettings()
    configure(settings, Settings(api_retry_seconds=5.0))
    retries = settings.networking.error_backoffs
    # Not Sized: kopf then never counts attempts and never gives up on a list or a watch.
    assert isinstance(retries, EndlessRetries) and not hasattr(retries, "__len__")
    delays = list(itertools.islice(iter(retries), 40))
    assert delays[:5] == [0.5, 1.0, 2.0, 4.0, 5.0]
    assert max(delays) == 5.0 and delays[-1] == 5.0
    assert list(itertools.islice(iter(retries), 3)) == [0.5, 1.0, 2.0]  # each use starts over
    assert settings.networking.connect_timeout is not None


def test_the_youngest_generation_is_collected_far_less_often_than_by_default() -> None:
    # Decoding an API object makes a hundred containers or more; at CPython's default (700)
    # the collector ran every few objects decoded.
    before = gc.get_threshold()
    try:
        gc.set_threshold(700, 10, 10)
        tune_garbage_collector()
        assert gc.get_threshold() == (GC_YOUNG_THRESHOLD, 10, 10)
        assert GC_YOUNG_THRESHOLD >= 10_000
    finally:
        gc.set_threshold(*before)
