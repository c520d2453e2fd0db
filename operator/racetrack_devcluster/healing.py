"""Restart what exits, the way the kubelet restarts the containers of a static pod.

A control plane on a laptop loses a component now and then (the OOM killer, a crash, a
developer's ``kill``). In kind the kubelet brings it back within seconds and nothing is lost;
the :class:`Healer` does the same for the dev cluster's processes:

- a component that exits is restarted after a back-off that follows the kubelet's shape: the
  first restart at once, then a delay doubling from ``Backoff.initial`` to ``Backoff.cap``
  with each further crash, and the count forgotten once the component ran for twice the cap
  (the kubelet's 10 s and 5 min are for pulled images; these processes start in a second);
- it waits for what it needs (``Component.needs``: etcd before the API server, containerd
  before the kubelet), so a restart never races a dependency that is itself coming back;
- a component that cannot recover by itself from another's restart names it in
  ``Component.restart_with`` and is restarted after it (kwok after etcd, see the launcher);
- every exit and restart is logged with its reason (the exit code, ``137 (SIGKILL)`` for a
  ``kill -9``), and :meth:`Healer.statuses` says for each component whether it runs, how
  often it was restarted and how it last exited (``racetrack dev status`` shows that);
- :meth:`Healer.held` keeps a component down on purpose (a test of a long outage), and
  :meth:`Healer.heal_now` skips the back-off (``racetrack dev up`` on a degraded cluster).

The healer never starts anything itself at first: the launcher starts the cluster in order
and fails fast if a component cannot start at all; healing begins once it is ready.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Iterator

from racetrack_devcluster.processes import Component, describe_exit

log = logging.getLogger(__name__)

Say = Callable[[str], None]


@dataclasses.dataclass(frozen=True)
class Backoff:
    initial: float = 1.0
    cap: float = 30.0

    def delay(self, crashes: int) -> float:
        """Seconds to wait before restarting after the ``crashes``-th exit in a row."""
        if crashes <= 1:
            return 0.0
        return float(min(self.cap, self.initial * 2 ** (crashes - 2)))

    def forgets(self, ran_for: float) -> bool:
        """Whether a run this long resets the count, as a healthy container's does."""
        return ran_for > 2 * self.cap


@dataclasses.dataclass(frozen=True)
class ComponentStatus:
    """What ``racetrack dev status`` shows of one component (plain data, stored as JSON)."""

    name: str
    pid: int
    #: "running", "restarting" (waiting for its back-off or what it needs), "held", or
    #: "exited" (seen by a reader before the supervisor noticed).
    state: str
    restarts: int = 0
    #: How it last exited, e.g. "137 (SIGKILL)"; empty if it never did.
    last_exit: str = ""
    #: When it last exited (seconds since the epoch), 0 if it never did.
    last_exit_at: float = 0.0
    #: While restarting: what it waits for, e.g. "back-off 4 s" or "etcd".
    waiting_for: str = ""

    @property
    def up(self) -> bool:
        return self.state == "running"


@dataclasses.dataclass
class _Record:
    restarts: int = 0
    crashes: int = 0
    last_exit: int | None = None
    last_exit_at: float = 0.0
    #: While down: ``time.monotonic()`` after which it may start again.
    due: float | None = None
    waiting_for: str = ""


class Healer:
    """Keeps the processes of ``components`` (the cluster's live list) running."""

    def __init__(
        self, components: list[Component], say: Say = log.info, backoff: Backoff = Backoff()
    ) -> None:
        self.components = components
        self.backoff = backoff
        self._say = say
        self._records: dict[str, _Record] = {}
        self._held: set[str] = set()
        # Ticks run in a thread of their own; tests hold and kill from theirs.
        self._lock = threading.RLock()

    def _record(self, name: str) -> _Record:
        return self._records.setdefault(name, _Record())

    def tick(self) -> None:
        """Notice exits and restart whatever is due, in dependency order."""
        with self._lock:
            now = time.monotonic()
            by_name = {component.name: component for component in self.components}
            for component in list(self.components):
                if component.running():
                    continue
                record = self._record(component.name)
                due = (
                    record.due
                    if record.due is not None
                    else self._noticed_exit(component, record, now)
                )
                if component.name in self._held or now < due:
                    continue
                missing = [
                    name
                    for name in component.needs
                    if name in by_name and not by_name[name].ready()
                ]
                if missing:
                    if record.waiting_for != missing[0]:
                        self._say(f"{component.name} waits for {', '.join(missing)} to be ready")
                    record.waiting_for = missing[0]
                    continue
                self._restart(component, record)

    def _noticed_exit(self, component: Component, record: _Record, now: float) -> float:
        """Record an exit and log it; returns when the component may start again."""
        code = component.returncode
        ran_for = now - component.started_at
        if self.backoff.forgets(ran_for):
            record.crashes = 0
        record.crashes += 1
        record.last_exit = code
        record.last_exit_at = time.time()
        delay = self.backoff.delay(record.crashes)
        record.due = now + delay
        record.waiting_for = f"back-off {delay:.0f} s" if delay else ""
        how = describe_exit(code) if code is not None else "an unknown status"
        held = " (held down)" if component.name in self._held else ""
        self._say(
            f"{component.name} (pid {component.pid}) exited with code {how} after "
            f"{ran_for:.1f} s{held}; restarting it in {delay:.0f} s "
            f"(log: {component.log_path})"
        )
        return record.due

    def _restart(self, component: Component, record: _Record) -> None:
        try:
            if component.before_restart is not None:
                component.before_restart()
            component.start(append=True)
        except Exception as error:
            record.crashes += 1
            delay = self.backoff.delay(record.crashes)
            record.due = time.monotonic() + delay
            self._say(f"{component.name} could not be started ({error}); next try in {delay} s")
            return
        record.restarts += 1
        record.due = None
        record.waiting_for = ""
        self._say(f"Restarted {component.name} (pid {component.pid}, restart {record.restarts})")
        for follower in self.components:
            if component.name in follower.restart_with and follower.running():
                self._say(f"Stopping {follower.name} to start it again after {component.name}")
                follower.stop()
                follower_record = self._record(follower.name)
                # Due at once, not counted as a crash; it still waits for what it needs.
                follower_record.due = time.monotonic()
                follower_record.waiting_for = f"{component.name} restarted"

    def heal_now(self) -> list[str]:
        """Clear the back-off of every component that is down; returns their names."""
        with self._lock:
            down = [c.name for c in self.components if not c.running()]
            for name in down:
                record = self._record(name)
                record.crashes = 0
                if record.due is not None:
                    record.due = 0.0
            self._held.clear()
        return down

    @contextlib.contextmanager
    def held(self, name: str) -> Iterator[None]:
        """Keep ``name`` down (if it exits) until the block ends: an outage of known length."""
        with self._lock:
            self._held.add(name)
        try:
            yield
        finally:
            with self._lock:
                self._held.discard(name)
                record = self._records.get(name)
                if record is not None and record.due is not None:
                    record.due = 0.0  # back at once, as if the outage were its only crash

    def restarts(self, name: str) -> int:
        with self._lock:
            return self._record(name).restarts

    def statuses(self) -> list[ComponentStatus]:
        with self._lock:
            return [self._status(component) for component in self.components]

    def _status(self, component: Component) -> ComponentStatus:
        record = self._record(component.name)
        if component.running():
            state, waiting = "running", ""
        elif component.name in self._held:
            state, waiting = "held", "held down"
        else:
            state, waiting = "restarting", record.waiting_for
            if record.due is not None and record.due > time.monotonic():
                waiting = f"back-off {record.due - time.monotonic():.0f} s"
        return ComponentStatus(
            name=component.name,
            pid=component.pid or 0,
            state=state,
            restarts=record.restarts,
            last_exit=describe_exit(record.last_exit) if record.last_exit is not None else "",
            last_exit_at=record.last_exit_at,
            waiting_for=waiting,
        )


class HealingThread:
    """Runs :meth:`Healer.tick` every ``interval`` seconds until stopped.

    It must outlive every process it restarts: the kernel sends ``PR_SET_PDEATHSIG`` when the
    spawning *thread* ends (see :mod:`.processes`), so it never ends on an error, only on
    :meth:`stop`, which the launcher calls before it stops the components.
    """

    def __init__(self, healer: Healer, interval: float = 0.2) -> None:
        self.healer = healer
        self._interval = interval
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="dev-cluster-healer", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        if self._thread.is_alive():
            self._thread.join()

    def _run(self) -> None:
        while not self._stopped.wait(self._interval):
            try:
                self.healer.tick()
            except Exception:
                log.exception("Healing the dev cluster failed; trying again")
