"""The dev cluster's files, and which processes provably belong to it.

``racetrack dev`` keeps three small files in the state folder, next to the cluster's
``data/`` and ``logs/``:

- ``state.json``, written by the supervisor once the cluster is ready and removed when it
  stops: who the supervisor is (pid and kernel start time) and where the cluster answers;
- ``components.json``, rewritten by the supervisor whenever a component exits or restarts:
  what ``racetrack dev status`` shows (:class:`~.healing.ComponentStatus`);
- ``options.json``, what ``racetrack dev up`` was asked for, kept while the cluster's data
  is, so a stopped cluster resumes as it was created.

Signals go only to a process that is provably the supervisor (same pid, same kernel start
time, our module on its command line), so a stale state file can never make us kill a
process we did not start.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

from racetrack_devcluster import clusterdata
from racetrack_devcluster.healing import ComponentStatus

SUPERVISOR_MODULE = "racetrack_devcluster.supervisor"
_STATE_FILE = "state.json"
_COMPONENTS_FILE = "components.json"
_OPTIONS_FILE = "options.json"


class DevClusterError(RuntimeError):
    """``racetrack dev`` could not do what was asked; the message says why."""


@dataclasses.dataclass(frozen=True)
class DevState:
    supervisor_pid: int
    supervisor_start_ticks: int
    kubeconfig: str
    server: str
    kubectl: str
    log_dir: str
    #: "real" or "simulated"; with real nodes, where the local registry answers.
    nodes: str = "simulated"
    registry: str = ""
    #: With real nodes, the node's network namespace, where cluster IPs route.
    netns: str = ""
    #: With real nodes: the git server's base URL (``git push GIT/NAME.git`` creates NAME),
    #: the CA file its certificate chains to, and the wheel folder builds install from.
    git: str = ""
    ca_file: str = ""
    wheels: str = ""
    #: Where the gateway answers (``{gateway}/pub/job/<name>/<version>/...``).
    gateway: str = ""


@dataclasses.dataclass(frozen=True)
class UpOptions:
    """What ``racetrack dev up`` was asked for when the cluster was created."""

    nodes: str = "simulated"
    with_operator: bool = True
    apiserver_port: int | None = None
    apiserver_args: tuple[str, ...] = ()


def default_state_dir() -> Path:
    override = os.environ.get("RACETRACK_STATE_DIR")
    if override:
        return Path(override).expanduser().resolve()
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "racetrack-operator" / "dev-cluster"


def _stat_fields(pid: int) -> list[str] | None:
    """Fields of ``/proc/PID/stat`` after the command name, or None if there is no such pid."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may contain spaces; fields after its closing ")" are fixed.
    return stat.rsplit(")", 1)[1].split()


def process_start_ticks(pid: int) -> int | None:
    """The kernel's start time of ``pid`` (clock ticks since boot), or None if gone."""
    fields = _stat_fields(pid)
    return int(fields[19]) if fields else None


def process_alive(pid: int) -> bool:
    """Whether ``pid`` runs: it exists and has not exited (a zombie waits to be reaped)."""
    fields = _stat_fields(pid) if pid > 0 else None
    return fields is not None and fields[0] not in ("Z", "X")


def is_our_supervisor(state: DevState) -> bool:
    if process_start_ticks(state.supervisor_pid) != state.supervisor_start_ticks:
        return False
    try:
        cmdline = Path(f"/proc/{state.supervisor_pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return SUPERVISOR_MODULE.encode() in cmdline


def _write_json(path: Path, document: Any) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(json.dumps(document, indent=2))
    temporary.rename(path)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def write_state(state_dir: Path, state: DevState) -> None:
    _write_json(state_dir / _STATE_FILE, dataclasses.asdict(state))


def read_state(state_dir: Path) -> DevState | None:
    try:
        return DevState(**_read_json(state_dir / _STATE_FILE))
    except TypeError:
        return None


def remove_state(state_dir: Path) -> None:
    (state_dir / _STATE_FILE).unlink(missing_ok=True)
    (state_dir / _COMPONENTS_FILE).unlink(missing_ok=True)


def running_state(state_dir: Path) -> DevState | None:
    """The state of a live dev cluster; a stale state file is removed (nothing is killed)."""
    state = read_state(state_dir)
    if state is None:
        return None
    if is_our_supervisor(state):
        return state
    remove_state(state_dir)
    return None


def write_components(state_dir: Path, statuses: list[ComponentStatus]) -> None:
    _write_json(state_dir / _COMPONENTS_FILE, [dataclasses.asdict(s) for s in statuses])


def read_components(state_dir: Path) -> list[ComponentStatus]:
    """What the supervisor last wrote, corrected for processes that exited since (the file
    is rewritten within a second of an exit; a status must never lag behind a crash)."""
    statuses = []
    for raw in _read_json(state_dir / _COMPONENTS_FILE) or []:
        status = ComponentStatus(**raw)
        if status.up and not process_alive(status.pid):
            status = dataclasses.replace(status, state="exited")
        statuses.append(status)
    return statuses


def write_options(state_dir: Path, options: UpOptions) -> None:
    _write_json(state_dir / _OPTIONS_FILE, dataclasses.asdict(options))


def read_options(state_dir: Path) -> UpOptions | None:
    raw = _read_json(state_dir / _OPTIONS_FILE)
    if not isinstance(raw, dict):
        return None
    try:
        return UpOptions(**{**raw, "apiserver_args": tuple(raw.get("apiserver_args") or ())})
    except TypeError:
        return None


def stopped_cluster(state_dir: Path) -> UpOptions | None:
    """The options of a cluster whose data is kept but that does not run, else None."""
    if running_state(state_dir) is not None:
        return None
    if clusterdata.load(state_dir / "data") is None:
        return None
    return read_options(state_dir) or UpOptions()


def remove_options(state_dir: Path) -> None:
    (state_dir / _OPTIONS_FILE).unlink(missing_ok=True)
