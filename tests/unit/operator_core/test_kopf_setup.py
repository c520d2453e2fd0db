"""The kopf settings the operator relies on, and the handler shape that makes them safe."""

from __future__ import annotations

import kopf

# Imported for its side effect: registering every handler with kopf's default registry.
from racetrack_operator import handlers  # noqa: F401
from racetrack_operator.handlers.startup import FINALIZER, configure
from racetrack_operator.handlers.storage import NoDiffBase
from racetrack_operator.settings import Settings


def test_no_changing_handlers_while_the_diff_base_is_skipped() -> None:
    # NoDiffBase tells kopf that nothing ever changed. That is only true for watch handlers:
    # an on.create/on.update/on.resume (or a daemon/timer, whose idling uses the diff) added
    # later would never fire for changes. Replace NoDiffBase before adding one.
    registry = kopf.get_default_registry()
    assert [h.id for h in registry._changing.get_all_handlers()] == []
    assert [h.id for h in registry._spawning.get_all_handlers()] == []
    assert {h.id for h in registry._watching.get_all_handlers()} >= {"job", "job-child"}


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
    assert settings.queueing.idle_timeout < 5.0
    assert settings.persistence.finalizer == FINALIZER
    assert isinstance(settings.persistence.diffbase_storage, NoDiffBase)
    assert settings.posting.loggers is False
    assert settings.posting.reporting_component == "racetrack-operator"
    assert settings.posting.event_name_prefix.startswith("racetrack-operator")
