"""What every command that talks to a cluster shares: kubectl's ``--kubeconfig``,
``--context`` and ``-n/--namespace``, one client, and errors said in a sentence."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import socket
import sys
import threading
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

from kubernetes.config import ConfigException

from racetrack_kube.client import (
    NO_ANSWER_ERRORS,
    ApiError,
    Kube,
    kubeconfig_namespace,
    load_api_client,
    no_answer_reason,
)

T = TypeVar("T")
COMPONENT = "racetrack-cli"


class CommandError(Exception):
    """What went wrong and what to do about it; printed as ``racetrack <command>: <message>``.

    Exit codes scripts can rely on: 1 for a failure (the cluster refused or could not be
    reached, something is missing), ``USAGE`` (2, as argparse) for a command line that cannot
    work (an invalid filter, an unknown column)."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


USAGE = 2


def add_cluster_arguments(parser: argparse.ArgumentParser, namespace_help: str | None) -> None:
    parser.add_argument(
        "--kubeconfig", help="kubeconfig file (default: $KUBECONFIG, ~/.kube/config)"
    )
    parser.add_argument("--context", help="kubeconfig context (default: the current one)")
    if namespace_help is not None:
        parser.add_argument("-n", "--namespace", help=namespace_help)


def connect(args: argparse.Namespace) -> Kube:
    try:
        return Kube(
            load_api_client(4, COMPONENT, kubeconfig=args.kubeconfig, context=args.context), 4
        )
    except (ConfigException, OSError) as error:
        if args.kubeconfig is None and args.context is None:
            # Neither the default kubeconfig nor a pod's service account: the client's own
            # words ("Service host/port is not set") are about the second only.
            raise CommandError(
                "no cluster to talk to: no usable kubeconfig ($KUBECONFIG, else ~/.kube/config) "
                f"and not in a pod ({error}); set $KUBECONFIG or give --kubeconfig, as for kubectl"
            ) from None
        raise CommandError(f"cannot load the kubeconfig: {error}") from None


def namespace(args: argparse.Namespace) -> str:
    """``-n``, else the kubeconfig context's namespace, as kubectl chooses."""
    if args.namespace:
        return str(args.namespace)
    try:
        return kubeconfig_namespace(args.kubeconfig, args.context)
    except (ConfigException, OSError) as error:
        raise CommandError(f"cannot load the kubeconfig: {error}") from None


def run(name: str, work: Callable[[], Awaitable[T]]) -> int:
    """Run a command's coroutine; a ``CommandError`` or an API error becomes one line on
    stderr and its exit code (1 unless the error says otherwise)."""
    try:
        asyncio.run(_awaited(work))
    except CommandError as error:
        print(f"racetrack {name}: {error}", file=sys.stderr)
        return error.exit_code
    except ApiError as error:
        print(f"racetrack {name}: the API server answered {error}", file=sys.stderr)
        return 1
    except NO_ANSWER_ERRORS as error:
        reason = no_answer_reason(error)
        print(f"racetrack {name}: cannot reach the API server: {reason}", file=sys.stderr)
        return 1
    return 0


async def _awaited(work: Callable[[], Awaitable[Any]]) -> Any:
    with _signals_wake(asyncio.get_running_loop()):
        return await work()


@contextlib.contextmanager
def _signals_wake(loop: asyncio.AbstractEventLoop) -> Iterator[None]:
    """Ctrl-C ends a command even while its event loop sleeps with nothing scheduled.

    Python runs signal handlers on the main thread only, and ``asyncio.run``'s (cancel the
    command, then raise ``KeyboardInterrupt``) runs when that thread next runs Python code. The
    kernel may hand SIGINT to any thread of the process, though: one streaming a log, or a
    client thread. A loop asleep in ``select()`` with no timer then never looks, and the
    command ignores Ctrl-C. A wakeup fd makes every signal wake the loop, whichever thread
    received it.
    """
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread may set a wakeup fd, and only it gets signal handlers
        return
    reader, writer = socket.socketpair()
    reader.setblocking(False)
    writer.setblocking(False)
    previous = signal.set_wakeup_fd(writer.fileno(), warn_on_full_buffer=False)
    loop.add_reader(reader.fileno(), _drain, reader)
    try:
        yield
    finally:
        loop.remove_reader(reader.fileno())
        signal.set_wakeup_fd(previous)
        reader.close()
        writer.close()


def _drain(reader: socket.socket) -> None:
    with contextlib.suppress(OSError):
        reader.recv(4096)


def forbidden(error: ApiError) -> bool:
    return error.status == 403
