"""Benchmark: ``perform`` throughput and latency of the job runtime against a floor.

    python bench/runtime_throughput.py [--rounds 3] [--requests 4000] [--seconds 10]

Both servers run as real processes on loopback in the same run: the runtime
(``python -m racetrack_job_runtime run bench/noop_job.py``, default configuration, so
tracing ids, metrics, the limiter, the timeout and the access log are all on; its log goes
to a file) and ``bench/floor_app.py``, the least code serving the same ``perform`` on the
same stack. Load comes from a separate process (this file with ``--load``): a keep-alive
HTTP/1.1 client on asyncio with N connections, each sending one request at a time,
bounded by a request count and a time limit.

Rounds alternate which server goes first, and each (server, concurrency) pair reports the
median round, so a noisy neighbour on the machine hurts both sides alike. The ratios
printed are ours/floor: time per request (inverse throughput), p50 and p99 latency, and
the server's CPU time per request (read from ``/proc``; the steadiest of the four on a
shared machine). The target is an overhead below 25% (ratio < 1.25).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
BODY = b'{"x": 7}'
REQUEST = (
    b"POST /api/v1/perform HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
    b"Content-Length: " + str(len(BODY)).encode() + b"\r\n\r\n" + BODY
)


# Load generator (runs in its own process) --------------------------------------------------
async def _worker(port: int, budget: list[int], deadline: float, latencies: list[float]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while budget[0] > 0 and time.perf_counter() < deadline:
            budget[0] -= 1
            started = time.perf_counter()
            writer.write(REQUEST)
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            body = await reader.readexactly(length)
            if not head.startswith(b"HTTP/1.1 200") or body != b"7":
                raise RuntimeError(f"unexpected answer: {head!r} {body!r}")
            latencies.append(time.perf_counter() - started)
    finally:
        writer.close()


async def _load(port: int, concurrency: int, requests: int, seconds: float) -> dict[str, Any]:
    latencies: list[float] = []
    budget = [requests]
    started = time.perf_counter()
    deadline = started + seconds
    workers = [_worker(port, budget, deadline, latencies) for _ in range(concurrency)]
    await asyncio.gather(*workers)
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "count": len(latencies),
        "rps": len(latencies) / elapsed,
        "p50_ms": 1000 * latencies[len(latencies) // 2],
        "p99_ms": 1000 * latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
    }


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process so far (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_load(server: Server, concurrency: int, requests: int, seconds: float) -> dict[str, Any]:
    """One load run in a separate process; its JSON summary plus the server's CPU per call."""
    command = [sys.executable, __file__, "--load", str(server.port), str(concurrency)]
    command += ["--requests", str(requests), "--seconds", str(seconds)]
    before = cpu_seconds(server.pid)
    out = subprocess.run(command, check=True, capture_output=True, text=True, timeout=seconds + 60)
    result: dict[str, Any] = json.loads(out.stdout)
    result["cpu_us"] = 1e6 * (cpu_seconds(server.pid) - before) / max(1, result["count"])
    return result


# Servers ----------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_ready(port: int, path: str, deadline: float) -> None:
    while time.monotonic() < deadline:
        url = f"http://127.0.0.1:{port}{path}"
        with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=1) as answer:
            if answer.status == 200:
                return
        time.sleep(0.1)
    raise RuntimeError(f"server on port {port} did not become ready")


@dataclasses.dataclass(frozen=True)
class Server:
    port: int
    pid: int


@contextlib.contextmanager
def servers(log_dir: Path) -> Iterator[dict[str, Server]]:
    ports = {"floor": free_port(), "ours": free_port()}
    env = dict(os.environ, PYTHONPATH=str(REPO / "operator"))
    ours = [sys.executable, "-m", "racetrack_job_runtime", "run", str(BENCH / "noop_job.py")]
    ours += ["--host", "127.0.0.1", "--port", str(ports["ours"])]
    commands = {"floor": [sys.executable, str(BENCH / "floor_app.py"), str(ports["floor"])]}
    commands["ours"] = ours
    processes = []
    try:
        for name, command in commands.items():
            log = (log_dir / f"{name}.log").open("wb")
            processes.append(subprocess.Popen(command, stdout=log, stderr=log, env=env))
        deadline = time.monotonic() + 30
        wait_ready(ports["ours"], "/ready", deadline)
        body = BODY
        for port in ports.values():  # warm-up, and a check that both answer perform
            request = urllib.request.Request(f"http://127.0.0.1:{port}/api/v1/perform", body)
            with urllib.request.urlopen(request, timeout=5) as answer:
                assert answer.read() == b"7"
        yield {name: Server(ports[name], p.pid) for name, p in zip(ports, processes, strict=True)}
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--load", nargs=2, type=int, metavar=("PORT", "CONCURRENCY"))
    parser.add_argument("--requests", type=int, default=4000, help="per run (default 4000)")
    parser.add_argument("--seconds", type=float, default=10.0, help="per run at most (10)")
    parser.add_argument("--rounds", type=int, default=3, help="runs per server (3)")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 32])
    args = parser.parse_args()
    if args.load:
        with contextlib.suppress(ImportError):
            import uvloop

            uvloop.install()
        port, concurrency = args.load
        print(json.dumps(asyncio.run(_load(port, concurrency, args.requests, args.seconds))))
        return 0

    results: dict[tuple[str, int], list[dict[str, Any]]] = {}
    with tempfile.TemporaryDirectory() as tmp, servers(Path(tmp)) as running:
        for concurrency in args.concurrency:
            for server in running.values():  # warm-up run, not counted
                run_load(server, concurrency, min(500, args.requests), args.seconds)
            for round_no in range(args.rounds):
                order = list(running.items())
                if round_no % 2:
                    order.reverse()
                for name, server in order:
                    run = run_load(server, concurrency, args.requests, args.seconds)
                    results.setdefault((name, concurrency), []).append(run)
    print_table(results, args.concurrency)
    return 0


def _median(runs: list[dict[str, Any]], key: str) -> float:
    return float(statistics.median(float(run[key]) for run in runs))


def print_table(results: dict[tuple[str, int], list[dict[str, Any]]], levels: list[int]) -> None:
    header = f"{'conc':>4} {'server':<6} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8}"
    print(header + f" {'cpu us/req':>10} {'requests':>9}")
    ratios = []
    for concurrency in levels:
        row: dict[str, dict[str, float]] = {}
        for name in ("floor", "ours"):
            runs = results[(name, concurrency)]
            row[name] = {key: _median(runs, key) for key in ("rps", "p50_ms", "p99_ms", "cpu_us")}
            total = sum(run["count"] for run in runs)
            values = row[name]
            print(
                f"{concurrency:>4} {name:<6} {values['rps']:>9.0f} {values['p50_ms']:>8.3f} "
                f"{values['p99_ms']:>8.3f} {values['cpu_us']:>10.0f} {total:>9}"
            )
        floor, ours = row["floor"], row["ours"]
        ratios.append(
            (
                concurrency,
                floor["rps"] / ours["rps"],
                ours["p50_ms"] / floor["p50_ms"],
                ours["p99_ms"] / floor["p99_ms"],
                ours["cpu_us"] / floor["cpu_us"],
            )
        )
    print("\nratios ours/floor (1.00 = no overhead; target < 1.25)")
    print(f"{'conc':>4} {'time/req':>9} {'p50':>6} {'p99':>6} {'cpu/req':>8}")
    for concurrency, per_request, p50, p99, cpu in ratios:
        print(f"{concurrency:>4} {per_request:>9.2f} {p50:>6.2f} {p99:>6.2f} {cpu:>8.2f}")


if __name__ == "__main__":
    raise SystemExit(main())
