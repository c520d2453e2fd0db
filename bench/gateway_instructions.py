"""Benchmark: the gateway's rules in instructions per call, which a busy machine cannot blur.

    python bench/gateway_instructions.py [--calls 1000] [--buffer-bytes 8192]

CPU time per call (``gateway_throughput.py``) is what the targets are about, but on a shared
machine it moves by a fifth from one run to the next, more than most changes to the rules.
This counts the user-space instructions HAProxy executes per proxied call instead (valgrind's
callgrind; the same count on every run to within about 1 %), for:

- plain HAProxy proxying to the same upstream (no rules, no log): the floor;
- the gateway from exactly the files the agent renders, with tables for 5,000 jobs and 1,000
  users (``gateway_throughput.world``), every call authenticated, resolved, authorised and
  routed, with and without the access log; and a GET, which HAProxy first copies whole so
  that it can send it again if the job hangs up without answering (a POST is never resent).

Each figure is the difference between two runs of one HAProxy, ``--calls`` apart, so start-up
(loading the tables) cancels out. Calls are sequential POSTs (GETs for the GET row) on one
keep-alive connection to a static nginx answer. Kernel time (the sockets, the log's write) is
not counted: compare the CPU figures of ``gateway_throughput.py`` for that.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from gateway_throughput import BUCKETS, SMALL, Servers, free_port, servers, world
from racetrack_gateway.render import config, tables

WARM_UP_CALLS = 200


def gateway_files(
    run_dir: Path, upstream: str, access_log: bool, buffer_bytes: int
) -> tuple[Path, str, str]:
    """The agent's files for the benchmark's world; haproxy.cfg, a caller's token, the path.
    ``buffer_bytes`` is HAProxy's ``tune.bufsize``."""
    entries, token = world(upstream)
    cfg = config.ConfigInput(
        run_dir,
        ("127.0.0.1:0",),
        BUCKETS,
        threads=1,
        access_log=access_log,
        buffer_bytes=buffer_bytes,
        servers=entries[tables.SERVERS],
    )
    for name, body in config.render_files(cfg, entries).items():
        (run_dir / name).parent.mkdir(parents=True, exist_ok=True)
        (run_dir / name).write_text(body)
    return run_dir / "haproxy.cfg", token, "/pub/job/fam-0042/latest/api/v1/perform"


def plain_config(work: Path, upstream: str) -> Path:
    path = work / "plain.cfg"
    path.write_text(
        "global\n    nbthread 1\ndefaults\n    mode http\n    timeout connect 5s\n"
        "    timeout client 60s\n    timeout server 60s\n"
        "frontend plain\n    bind 127.0.0.1:0\n    default_backend job\n"
        f"backend job\n    server job {upstream}\n"
    )
    return path


def instructions(
    cfg: Path, calls: int, headers: dict[str, str], path: str, work: Path, method: str = "POST"
) -> int:
    """User-space instructions of one HAProxy, started from ``cfg`` on a free port, that
    answered ``calls`` calls (start-up and shutdown included): POSTs of a small body, or
    ``method`` with none."""
    port = free_port()
    text = re.sub(r"^(    bind 127\.0\.0\.1):0$", rf"\1:{port}", cfg.read_text(), flags=re.M)
    run_cfg = cfg.with_name(f"{cfg.stem}-{port}.cfg")
    run_cfg.write_text(text)
    out = work / f"callgrind-{port}.out"
    argv = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}"]
    process = subprocess.Popen(
        [*argv, "haproxy", "-db", "-f", str(run_cfg)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        connection = connect(port)
        for _ in range(calls):
            body = SMALL.encode() if method == "POST" else None
            connection.request(method, path, body=body, headers=headers)
            answer = connection.getresponse()
            answer.read()
            if answer.status != 200:
                raise RuntimeError(f"{cfg.name}: a call answered {answer.status}")
        connection.close()
        time.sleep(0.5)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
    match = re.search(r"^(?:summary|totals): (\d+)", out.read_text(), re.M)
    if match is None:
        raise RuntimeError(f"callgrind wrote no total to {out}")
    return int(match.group(1))


def connect(port: int, deadline: float = 120.0) -> http.client.HTTPConnection:
    end = time.monotonic() + deadline
    while True:
        with contextlib.suppress(OSError):
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            connection.connect()
            return connection
        if time.monotonic() > end:
            raise RuntimeError(f"HAProxy under valgrind never listened on {port}")
        time.sleep(0.2)


def per_call(
    cfg: Path, calls: int, headers: dict[str, str], path: str, work: Path, method: str = "POST"
) -> float:
    few = instructions(cfg, WARM_UP_CALLS, headers, path, work, method)
    many = instructions(cfg, WARM_UP_CALLS + calls, headers, path, work, method)
    return (many - few) / calls


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=1000, help="calls counted (1000)")
    parser.add_argument(
        "--buffer-bytes",
        type=int,
        default=config.ConfigInput.buffer_bytes,
        help="the gateway's HAProxy tune.bufsize (%(default)s)",
    )
    args = parser.parse_args()
    for tool in ("valgrind", "nginx", "haproxy"):
        if shutil.which(tool) is None:
            print(f"{tool} is not installed (make bench installs it)")
            return 1
    with tempfile.TemporaryDirectory() as tmp, servers(Path(tmp)) as running:
        work = Path(tmp)
        work.chmod(0o755)  # nginx's workers run as an unprivileged user
        figures = measure(running, work, args.calls, args.buffer_bytes)
    plain = figures["plain HAProxy (floor)"]
    print(f"User-space instructions per call, {args.calls} calls each:\n")
    print(f"{'target':<32} {'instructions/call':>18} {'x plain':>8}")
    for name, value in figures.items():
        print(f"{name:<32} {value:>18,.0f} {value / plain:>8.2f}")
    return 0


def measure(running: Servers, work: Path, calls: int, buffer_bytes: int) -> dict[str, float]:
    upstream, _ = running.nginx("7")
    plain = per_call(plain_config(work, upstream), calls, {}, "/api/v1/perform", work)
    figures = {"plain HAProxy (floor)": plain}
    for access_log in (True, False):
        run_dir = work / f"gateway-{access_log}"
        run_dir.mkdir()
        cfg, token, path = gateway_files(run_dir, upstream, access_log, buffer_bytes)
        name = "gateway" + ("" if access_log else ", no access log")
        figures[name] = per_call(cfg, calls, {"X-Racetrack-Auth": token}, path, work)
        if access_log:
            figures["gateway, GET"] = per_call(
                cfg, calls, {"X-Racetrack-Auth": token}, path, work, "GET"
            )
    return figures


if __name__ == "__main__":
    sys.exit(main())
