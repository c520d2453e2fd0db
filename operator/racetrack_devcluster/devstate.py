"""A dev cluster that outlives the command that started it: ``racetrack dev up/down/status``.

``up`` builds what is missing in the foreground (with progress), then starts a detached
supervisor process (:mod:`.supervisor`) that runs the :class:`~.launcher.LocalCluster` and
reports back through a pipe: progress lines, then ``ready`` or ``error``. The supervisor
records itself in ``state.json``. ``down`` signals only a process that is provably that
supervisor (same pid, same kernel start time, our module on its command line), so a stale
state file can never make us kill a process we did not start.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from racetrack_devcluster.build import BinaryCache, Progress
from racetrack_devcluster.launcher import ClusterOptions
from racetrack_devcluster.realnode import assets as realnode_assets

SUPERVISOR_MODULE = "racetrack_devcluster.supervisor"
_STATE_FILE = "state.json"


class DevClusterError(RuntimeError):
    """``racetrack dev`` could not do what was asked; the message says why."""


@dataclass(frozen=True)
class DevState:
    supervisor_pid: int
    supervisor_start_ticks: int
    kubeconfig: str
    server: str
    kubectl: str
    log_dir: str
    components: dict[str, int]
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


def default_state_dir() -> Path:
    override = os.environ.get("RACETRACK_STATE_DIR")
    if override:
        return Path(override).expanduser().resolve()
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "racetrack-operator" / "dev-cluster"


def process_start_ticks(pid: int) -> int | None:
    """The kernel's start time of ``pid`` (clock ticks since boot), or None if gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may contain spaces; fields after its closing ")" are fixed.
    return int(stat.rsplit(")", 1)[1].split()[19])


def is_our_supervisor(state: DevState) -> bool:
    if process_start_ticks(state.supervisor_pid) != state.supervisor_start_ticks:
        return False
    try:
        cmdline = Path(f"/proc/{state.supervisor_pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return SUPERVISOR_MODULE.encode() in cmdline


def write_state(state_dir: Path, state: DevState) -> None:
    temporary = state_dir / f".{_STATE_FILE}.tmp"
    temporary.write_text(json.dumps(asdict(state), indent=2))
    temporary.rename(state_dir / _STATE_FILE)


def read_state(state_dir: Path) -> DevState | None:
    try:
        return DevState(**json.loads((state_dir / _STATE_FILE).read_text()))
    except (OSError, ValueError, TypeError):
        return None


def remove_state(state_dir: Path) -> None:
    (state_dir / _STATE_FILE).unlink(missing_ok=True)


def running_state(state_dir: Path) -> DevState | None:
    """The state of a live dev cluster; a stale state file is removed (nothing is killed)."""
    state = read_state(state_dir)
    if state is None:
        return None
    if is_our_supervisor(state):
        return state
    remove_state(state_dir)
    return None


class AlreadyRunning(DevClusterError):
    def __init__(self, state: DevState) -> None:
        super().__init__(
            f"A dev cluster is already running (supervisor pid {state.supervisor_pid})"
        )
        self.state = state


def up(
    state_dir: Path,
    options: ClusterOptions,
    cache: BinaryCache,
    progress: Progress,
    with_operator: bool = True,
    nodes: str = "simulated",
) -> DevState:
    state_dir.mkdir(parents=True, exist_ok=True)
    existing = running_state(state_dir)
    if existing is not None:
        raise AlreadyRunning(existing)
    try:
        cache.ensure()
        nodes = realnode_assets.prepare(nodes, cache, progress)
    except RuntimeError as error:
        raise DevClusterError(str(error)) from error
    log_dir = state_dir / "logs"
    log_dir.mkdir(exist_ok=True)
    read_end, write_end = os.pipe()
    argv = [
        sys.executable,
        "-m",
        SUPERVISOR_MODULE,
        f"--state-dir={state_dir}",
        f"--cache-dir={cache.cache_dir}",
        f"--report-fd={write_end}",
    ]
    if options.apiserver_port is not None:
        argv.append(f"--apiserver-port={options.apiserver_port}")
    argv += [f"--apiserver-arg={arg}" for arg in options.apiserver_args]
    if not with_operator:
        argv.append("--no-operator")
    argv.append(f"--nodes={nodes}")
    with (log_dir / "supervisor.log").open("wb") as log:
        supervisor = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            pass_fds=(write_end,),
            # Its own session: a Ctrl-C in the terminal that ran `dev up` must not stop it.
            start_new_session=True,
        )
    os.close(write_end)
    with os.fdopen(read_end) as reports:
        for line in reports:
            kind, _, message = line.rstrip("\n").partition(" ")
            if kind == "progress":
                progress(message)
            elif kind == "error":
                supervisor.wait(timeout=60)
                raise DevClusterError(message)
            elif kind == "ready":
                state = read_state(state_dir)
                if state is None:
                    raise DevClusterError(
                        f"the supervisor reported ready without a state file in {state_dir}"
                    )
                return state
    supervisor.wait(timeout=60)
    raise DevClusterError(
        f"the dev cluster supervisor exited with code {supervisor.returncode} before the cluster "
        f"was ready (log: {log_dir / 'supervisor.log'})"
    )


def down(state_dir: Path, timeout: float = 60.0) -> bool:
    """Stop the dev cluster; False when none was running."""
    state = running_state(state_dir)
    if state is None:
        return False
    os.kill(state.supervisor_pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while process_start_ticks(state.supervisor_pid) == state.supervisor_start_ticks:
        if time.monotonic() > deadline:
            raise DevClusterError(
                f"the dev cluster supervisor (pid {state.supervisor_pid}) did not stop within "
                f"{timeout:.0f} s; see {state.log_dir}/supervisor.log"
            )
        time.sleep(0.1)
    remove_state(state_dir)
    return True
