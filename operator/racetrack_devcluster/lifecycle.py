"""``racetrack dev up``, ``stop`` and ``down``: a dev cluster that outlives the command.

``up`` looks at what is there and does the one thing that makes the cluster run:

- nothing: builds what is missing in the foreground (with progress), then starts a detached
  supervisor (:mod:`.supervisor`) that runs a new cluster and reports back through a pipe
  (progress lines, then ``ready`` or ``error``);
- a stopped cluster (its data kept by ``stop``, or left by a supervisor that was killed):
  the same, resuming that cluster with the options it was created with;
- a running cluster with a component down: asks the supervisor to start it now instead of
  after its back-off (``SIGUSR1``) and waits until it runs;
- a running, healthy cluster: nothing (:class:`AlreadyRunning`).

``stop`` asks the supervisor to stop (``SIGTERM``): every process ends, etcd, the keys, the
registry and the node's images stay. ``down`` stops what runs and removes all of it.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from racetrack_devcluster import clusterdata
from racetrack_devcluster.build import BinaryCache, Progress
from racetrack_devcluster.devstate import (
    SUPERVISOR_MODULE,
    DevClusterError,
    DevState,
    UpOptions,
    is_our_supervisor,
    process_start_ticks,
    read_components,
    read_state,
    remove_options,
    remove_state,
    running_state,
    stopped_cluster,
    write_options,
)
from racetrack_devcluster.realnode import assets as realnode_assets

#: How long ``up`` waits for a degraded cluster's missing components.
HEAL_TIMEOUT = 120.0


class AlreadyRunning(DevClusterError):
    """A cluster runs; ``started_again`` names components ``up`` had to start."""

    def __init__(self, state: DevState, started_again: list[str]) -> None:
        super().__init__(
            f"A dev cluster is already running (supervisor pid {state.supervisor_pid})"
        )
        self.state = state
        self.started_again = started_again


@dataclasses.dataclass(frozen=True)
class Started:
    state: DevState
    #: Whether a stopped cluster was resumed (else a new one was made).
    resumed: bool
    options: UpOptions


def up(state_dir: Path, asked: UpOptions, cache: BinaryCache, progress: Progress) -> Started:
    state_dir.mkdir(parents=True, exist_ok=True)
    running = running_state(state_dir)
    if running is not None:
        raise AlreadyRunning(running, _start_missing(state_dir, running, progress))
    saved = stopped_cluster(state_dir)
    options = saved or asked
    if saved is not None and asked not in (saved, UpOptions()):
        progress(
            f"Resuming the stopped dev cluster as it was created ({_describe(saved)}); to "
            "start afresh with other options, remove it first with: racetrack dev down"
        )
    try:
        cache.ensure()
        nodes = realnode_assets.prepare(options.nodes, cache, progress)
    except RuntimeError as error:
        raise DevClusterError(str(error)) from error
    if saved is not None and nodes != saved.nodes:
        raise DevClusterError(
            f"the stopped dev cluster has {saved.nodes} nodes, which cannot run here now; "
            "remove it with: racetrack dev down"
        )
    options = dataclasses.replace(options, nodes=nodes)
    write_options(state_dir, options)
    state = _start_supervisor(state_dir, options, cache, progress, resume=saved is not None)
    return Started(state, saved is not None, options)


def _describe(options: UpOptions) -> str:
    parts = [f"--nodes {options.nodes}"]
    if not options.with_operator:
        parts.append("--no-operator")
    return " ".join(parts)


def _start_missing(state_dir: Path, state: DevState, progress: Progress) -> list[str]:
    """Have the supervisor start what is down now, and wait until everything runs."""
    down = [status.name for status in read_components(state_dir) if not status.up]
    if not down:
        return []
    progress(f"Starting what is down: {', '.join(down)}")
    os.kill(state.supervisor_pid, signal.SIGUSR1)
    deadline = time.monotonic() + HEAL_TIMEOUT
    while still_down := [s for s in read_components(state_dir) if not s.up]:
        if time.monotonic() > deadline or not is_our_supervisor(state):
            names = ", ".join(f"{s.name} (last exit {s.last_exit or 'none'})" for s in still_down)
            raise DevClusterError(
                f"{names} did not start again; see {state.log_dir}/supervisor.log and the "
                "component's log there"
            )
        time.sleep(0.2)
    return down


def _start_supervisor(
    state_dir: Path, options: UpOptions, cache: BinaryCache, progress: Progress, *, resume: bool
) -> DevState:
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
        f"--nodes={options.nodes}",
        *(["--resume"] if resume else []),
        *([] if options.with_operator else ["--no-operator"]),
        *[f"--apiserver-arg={arg}" for arg in options.apiserver_args],
    ]
    if options.apiserver_port is not None:
        argv.append(f"--apiserver-port={options.apiserver_port}")
    # Appended to: a resumed cluster's supervisor log keeps the history of its earlier runs.
    with (log_dir / "supervisor.log").open("ab") as log:
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
                if not resume:
                    remove_options(state_dir)
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


def stop(state_dir: Path, timeout: float = 120.0) -> bool:
    """Stop the dev cluster, keeping its data; False when none was running."""
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


def down(state_dir: Path) -> bool:
    """Stop the dev cluster if it runs and remove its data; False when there was none."""
    stopped = stop(state_dir)
    had_data = clusterdata.load(state_dir / "data") is not None
    clusterdata.discard(state_dir)
    remove_options(state_dir)
    return stopped or had_data
