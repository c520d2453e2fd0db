"""Benchmark: the gateway's data plane against a direct call and an nginx plain proxy.

    python bench/gateway_throughput.py [--seconds 5] [--rounds 3] [--upstreams runtime static]
                                       [--buffer-bytes 8192] [--jobs 5000] [--users 1000]

Side by side in one run, with one load generator (wrk, pinned to CPU 1; every server pinned
to CPU 0), for each upstream, body size (small JSON, 1 MB) and concurrency (1, 16):

- direct: wrk calls the upstream itself;
- nginx: an nginx plain proxy (one worker, upstream keep-alive), no checks at all: the floor;
- haproxy: HAProxy as a plain proxy (one thread, no rules, no log), to tell what our rules
  cost from what HAProxy itself costs;
- gateway: HAProxy from exactly the files the agent renders, with tables for 5,000 jobs and
  1,000 users (~11.5k permission keys): every call is authenticated (token hash lookup),
  resolved (``latest``), authorised (prefix lookups) and routed (one server among 5,000 in
  256 backends), with the access log on. ``--jobs`` and ``--users`` size those tables, to
  tell what the tables' size costs from what the rules cost.

Upstreams: ``runtime`` is our job runtime serving ``bench/gateway_job.py`` (what jobs are);
``static`` is nginx answering a fixed body, fast enough that the proxies' own cost shows
(small bodies only: nginx answers before reading a large body, then drops the connection).

Reported per target: req/s, p50 and p99 latency (wrk), the proxy's CPU time per call (from
``/proc``: HAProxy's process, nginx's worker). Each figure is the median of the rounds, the
rounds alternate the order of the targets. Ratios: gateway/nginx req/s, gateway - direct
p50 at c=1, gateway CPU per call. Then each target, met or not, with the figures that
judge it: >= 0.7x nginx's req/s in every row, <= +0.1 ms p50 over direct at c=1 and <= 20 us
CPU per call at c=16 (small bodies). The CPU target was set where nginx took 10.2 us per
call, so it is also read as a share of the same run's nginx: at most 20 / 10.2 = 1.96 times.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from racetrack_api import tokens
from racetrack_api.permissions import Grant, SubjectRef
from racetrack_api.v1alpha1.permission import Scope, SubjectKind
from racetrack_gateway.model import Caller, Family, Version
from racetrack_gateway.render import config, tables

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
JOBS, USERS, BUCKETS = 5000, 1000, 256
TARGET_RPS_SHARE, TARGET_P50_ADDED_MS, TARGET_CPU_US = 0.7, 0.1, 20.0
#: nginx's CPU per call at c=16 on the machine the CPU target was set on.
NGINX_CPU_US_WHERE_SET = 10.2
PROXIES = ("nginx", "haproxy", "gateway")
SERVER_CPU, LOAD_CPU = "0", "1"
SMALL = '{"x": 7}'
LARGE = '{"x": 7, "data": "' + "y" * (1 << 20) + '"}'


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def cpu_seconds(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def pinned(argv: list[str]) -> list[str]:
    return ["taskset", "-c", SERVER_CPU, *argv]


def wait_http(url: str, deadline: float = 30.0) -> None:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        with contextlib.suppress(OSError):
            request = urllib.request.Request(url, data=SMALL.encode(), method="POST")
            with urllib.request.urlopen(request, timeout=2) as answer:
                if answer.status == 200:
                    return
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer 200")


@dataclass
class Target:
    name: str
    url: str
    #: Processes whose CPU is the proxy's own (empty for direct calls).
    cpu_pids: list[int]
    headers: dict[str, str]


# -- servers --------------------------------------------------------------------------------
def nginx_conf(work: Path, port: int, body: str | None, upstream: str | None) -> Path:
    folder = work / f"nginx-{port}"
    folder.mkdir()
    location = (
        f"location / {{ return 200 '{body}'; }}"
        if body is not None
        else "location / { proxy_pass http://job; proxy_http_version 1.1; "
        'proxy_set_header Connection ""; proxy_request_buffering off; '
        "proxy_buffering off; }"
    )
    upstream_block = f"upstream job {{ server {upstream}; keepalive 64; }}" if upstream else ""
    text = f"""
worker_processes 1;
pid {folder}/nginx.pid;
error_log {folder}/error.log;
events {{ worker_connections 4096; }}
http {{
    access_log {folder}/access.log;
    client_body_temp_path {folder}/body;
    proxy_temp_path {folder}/proxy;
    fastcgi_temp_path {folder}/fastcgi;
    uwsgi_temp_path {folder}/uwsgi;
    scgi_temp_path {folder}/scgi;
    client_max_body_size 16m;
    keepalive_requests 1000000;
    {upstream_block}
    server {{ listen 127.0.0.1:{port}; {location} }}
}}
"""
    path = folder / "nginx.conf"
    path.write_text(text)
    return path


class Servers:
    def __init__(self, work: Path) -> None:
        self.work = work
        self.processes: list[subprocess.Popen[bytes]] = []

    def spawn(self, argv: list[str], log: str, env: dict[str, str] | None = None) -> int:
        with (self.work / log).open("wb") as out:
            process = subprocess.Popen(
                pinned(argv), stdout=out, stderr=subprocess.STDOUT, env=env or dict(os.environ)
            )
        self.processes.append(process)
        return process.pid

    def nginx(self, body: str | None = None, upstream: str | None = None) -> tuple[str, list[int]]:
        port = free_port()
        conf = nginx_conf(self.work, port, body, upstream)
        master = self.spawn(["nginx", "-c", str(conf), "-g", "daemon off;"], f"nginx-{port}.log")
        wait_http(f"http://127.0.0.1:{port}/api/v1/perform")
        workers = subprocess.run(
            ["pgrep", "-P", str(master)], capture_output=True, text=True, check=False
        ).stdout.split()
        return f"127.0.0.1:{port}", [int(pid) for pid in workers]

    def runtime(self) -> str:
        port = free_port()
        env = dict(os.environ, PYTHONPATH=str(REPO / "operator"), JOB_MAX_BODY_BYTES=str(4 << 20))
        argv = [sys.executable, "-m", "racetrack_job_runtime", "run", str(BENCH / "gateway_job.py")]
        self.spawn([*argv, "--host", "127.0.0.1", "--port", str(port)], f"job-{port}.log", env)
        wait_http(f"http://127.0.0.1:{port}/api/v1/perform")
        return f"127.0.0.1:{port}"

    def gateway(
        self,
        upstream: str,
        buffer_bytes: int = config.ConfigInput.buffer_bytes,
        jobs: int = JOBS,
        users: int = USERS,
    ) -> tuple[str, list[int], str, int]:
        """HAProxy with the agent's files for a synthetic world whose ``jobs`` job versions
        all answer at ``upstream``; the URL, HAProxy's pid, a caller's token and key count.
        ``buffer_bytes`` is HAProxy's ``tune.bufsize``."""
        run_dir = Path(tempfile.mkdtemp(prefix="rtgw-bench-"))
        port = free_port()
        entries, token = world(upstream, jobs, users)
        cfg = config.ConfigInput(
            run_dir,
            (f"127.0.0.1:{port}",),
            BUCKETS,
            threads=1,
            buffer_bytes=buffer_bytes,
            servers=entries[tables.SERVERS],
        )
        for name, body in config.render_files(cfg, entries).items():
            (run_dir / name).parent.mkdir(parents=True, exist_ok=True)
            (run_dir / name).write_text(body)
        pid = self.spawn(["haproxy", "-db", "-f", str(run_dir / "haproxy.cfg")], "haproxy.log")
        url = f"http://127.0.0.1:{port}/pub/job/fam-0042/latest/api/v1/perform"
        end = time.monotonic() + 30
        while True:
            with contextlib.suppress(OSError):
                request = urllib.request.Request(
                    url, data=SMALL.encode(), headers={"X-Racetrack-Auth": token}
                )
                with urllib.request.urlopen(request, timeout=2) as answer:
                    if answer.status == 200:
                        break
            if time.monotonic() > end:
                raise RuntimeError(f"the gateway never answered 200; see {self.work}/haproxy.log")
            time.sleep(0.1)
        return url, [pid], token, len(entries[tables.PERMS])

    def haproxy_plain(self, upstream: str) -> tuple[str, list[int]]:
        port = free_port()
        conf = self.work / f"plain-{port}.cfg"
        conf.write_text(
            "global\n    nbthread 1\ndefaults\n    mode http\n    timeout connect 5s\n"
            "    timeout client 60s\n    timeout server 60s\n"
            f"frontend plain\n    bind 127.0.0.1:{port}\n    default_backend job\n"
            f"backend job\n    server job {upstream}\n"
        )
        pid = self.spawn(["haproxy", "-db", "-f", str(conf)], f"plain-{port}.log")
        wait_http(f"http://127.0.0.1:{port}/api/v1/perform")
        return f"127.0.0.1:{port}", [pid]

    def stop(self) -> None:
        for process in self.processes:
            process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


def world(upstream: str, jobs: int = JOBS, users: int = USERS) -> tuple[tables.Entries, str]:
    """``jobs`` families (one serving version each), ``users`` users with a token each, and
    their permission keys: 10 families per user, a tenth of them narrowed to an endpoint, a
    version pattern for some; user 7 may call family fam-0042's perform. At 5,000 and 1,000:
    ~11.5k permission keys."""
    if jobs <= 42 or users <= 7:
        raise ValueError("the world needs family fam-0042 and user 7: at least 43 jobs, 8 users")
    rng = random.Random(7)
    key = tokens.new_auth_key()
    families = {
        f"fam-{i:04d}": Family(
            f"team-{i % 50}",
            f"fam-{i:04d}",
            (Version("1.0.0", f"fam-{i:04d}-v1-0-0", True, upstream),),
        )
        for i in range(jobs)
    }
    subjects = [SubjectRef(SubjectKind.USER, f"user-{i:04d}") for i in range(users)]
    issued = {user: tokens.issue(user.name, "user", key) for user in subjects}
    callers = tuple(Caller(u, (tokens.token_hash(t),)) for u, t in issued.items())
    grants = []
    for user in subjects:
        for family in rng.sample(sorted(families), 10):
            endpoint = "/api/v1/perform" if rng.random() < 0.1 else None
            grants.append(Grant(user, Scope.CALL_JOB, None, family, None, endpoint))
        if rng.random() < 0.5:
            grants.append(Grant(user, Scope.CALL_JOB, None, rng.choice(sorted(families)), "1.x"))
    caller = subjects[7]
    grants.append(Grant(caller, Scope.CALL_JOB, None, "fam-0042", None, "/api/v1/perform"))
    state = tables.World(callers, families, tuple(grants), True, None)
    now = datetime.datetime.now(datetime.UTC)
    return tables.render_all(state, BUCKETS, now), issued[caller]


# -- load -----------------------------------------------------------------------------------
def lua(work: Path, body: str, headers: dict[str, str]) -> Path:
    path = work / f"load-{len(body)}-{len(headers)}.lua"
    body_file = work / f"body-{len(body)}.json"
    body_file.write_text(body)
    lines = [
        'wrk.method = "POST"',
        f'local f = io.open("{body_file}", "rb"); wrk.body = f:read("*all"); f:close()',
        'wrk.headers["Content-Type"] = "application/json"',
        *(f'wrk.headers["{k}"] = "{v}"' for k, v in headers.items()),
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()  # type: ignore[union-attr]
    return float(number) * _UNITS[unit]


def run_wrk(
    target: Target, body: str, concurrency: int, seconds: float, work: Path
) -> dict[str, float]:
    script = lua(work, body, target.headers)
    argv = [
        "taskset",
        "-c",
        LOAD_CPU,
        "wrk",
        "-t1",
        f"-c{concurrency}",
        f"-d{max(1, round(seconds))}s",
        "--latency",
        "-s",
        str(script),
        target.url,
    ]
    before = cpu_seconds(target.cpu_pids)
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    spent = cpu_seconds(target.cpu_pids) - before
    # A connection closed as the run ends counts as a read error: report, do not stop.
    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    errors += int((re.search(r"Non-2xx or 3xx responses: (\d+)", out) or [0, 0])[1])
    count = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    latency = dict(re.findall(r"^\s+(50|99)%\s+(\S+)\s*$", out, re.M))
    if set(latency) != {"50", "99"}:
        raise RuntimeError(f"{target.name}: no latency distribution in wrk's output:\n{out}")
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
        "p50_ms": _ms(latency["50"]),
        "p99_ms": _ms(latency["99"]),
        "cpu_us": 1e6 * spent / max(1, count),
        "count": count,
        "errors": errors,
    }


@contextlib.contextmanager
def servers(work: Path) -> Iterator[Servers]:
    running = Servers(work)
    try:
        yield running
    finally:
        running.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="per run (5)")
    parser.add_argument("--rounds", type=int, default=3, help="runs per figure (3)")
    parser.add_argument("--upstreams", nargs="+", default=["runtime", "static"])
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 16])
    parser.add_argument(
        "--buffer-bytes",
        type=int,
        default=config.ConfigInput.buffer_bytes,
        help="the gateway's HAProxy tune.bufsize (%(default)s)",
    )
    parser.add_argument(
        "--jobs", type=int, default=JOBS, help="job versions in the tables (%(default)s)"
    )
    parser.add_argument(
        "--users", type=int, default=USERS, help="users in the tables (%(default)s)"
    )
    args = parser.parse_args()
    for tool in ("nginx", "wrk", "haproxy", "taskset"):
        if shutil.which(tool) is None:
            print(f"{tool} is not installed (make system-packages / racetrack dev prereqs)")
            return 1
    results: dict[tuple[str, str, int, str], list[dict[str, float]]] = {}
    with tempfile.TemporaryDirectory() as tmp, servers(Path(tmp)) as running:
        work = Path(tmp)
        work.chmod(0o755)  # nginx's workers run as an unprivileged user
        keys = 0
        for upstream_kind in args.upstreams:
            upstream = running.runtime() if upstream_kind == "runtime" else running.nginx("7")[0]
            nginx, workers = running.nginx(upstream=upstream)
            plain, plain_pids = running.haproxy_plain(upstream)
            gateway_url, gateway_pids, token, keys = running.gateway(
                upstream, args.buffer_bytes, args.jobs, args.users
            )
            targets = [
                Target("direct", f"http://{upstream}/api/v1/perform", [], {}),
                Target("nginx", f"http://{nginx}/api/v1/perform", workers, {}),
                Target("haproxy", f"http://{plain}/api/v1/perform", plain_pids, {}),
                Target("gateway", gateway_url, gateway_pids, {"X-Racetrack-Auth": token}),
            ]
            # nginx's fixed answer comes before it reads a large body, and then it closes the
            # connection: large bodies go to the runtime only.
            bodies = [("small", SMALL)] + ([("1MB", LARGE)] if upstream_kind == "runtime" else [])
            for body_name, body in bodies:
                for concurrency in args.concurrency:
                    for target in targets:  # warm-up, not counted
                        run_wrk(target, body, concurrency, 1, work)
                    for round_no in range(args.rounds):
                        order = targets if round_no % 2 == 0 else list(reversed(targets))
                        for target in order:
                            run = run_wrk(target, body, concurrency, args.seconds, work)
                            key = (upstream_kind, body_name, concurrency, target.name)
                            results.setdefault(key, []).append(run)
    print_results(results, args, keys)
    return 0


Medians = dict[tuple[str, str, int, str], dict[str, float]]


def _median(runs: list[dict[str, float]], key: str) -> float:
    return float(statistics.median(run[key] for run in runs))


def print_results(
    results: dict[tuple[str, str, int, str], list[dict[str, float]]], args: Any, keys: int
) -> None:
    print(
        f"Gateway tables: {args.jobs} jobs, {args.users} users, {keys} permission keys; "
        f"{args.rounds} rounds of {args.seconds:.0f} s, medians.\n"
    )
    medians: Medians = {
        key: {field: _median(runs, field) for field in ("rps", "p50_ms", "p99_ms", "cpu_us")}
        for key, runs in results.items()
    }
    print(
        f"{'upstream':<8} {'body':<5} {'c':>3} {'target':<8} {'req/s':>9} {'p50 ms':>8} "
        f"{'p99 ms':>8} {'cpu us/call':>11} {'calls':>8} {'errors':>6}"
    )
    for (upstream, body, concurrency, name), runs in results.items():
        values = medians[(upstream, body, concurrency, name)]
        cpu = "-" if name == "direct" else f"{values['cpu_us']:.1f}"
        calls = sum(int(run["count"]) for run in runs)
        errors = sum(int(run["errors"]) for run in runs)
        print(
            f"{upstream:<8} {body:<5} {concurrency:>3} {name:<8} {values['rps']:>9.0f} "
            f"{values['p50_ms']:>8.3f} {values['p99_ms']:>8.3f} {cpu:>11} {calls:>8} {errors:>6}"
        )
    print("\ngateway against the same run's baselines")
    print(
        f"{'upstream':<8} {'body':<5} {'c':>3} {'req/s / nginx':>14} {'p50 - direct ms':>16} "
        f"{'cpu / nginx':>12} {'rules us/call':>14} {'cpu us/call':>12}"
    )
    for upstream, body, concurrency, name in results:
        if name != "gateway":
            continue
        row = {t: medians[(upstream, body, concurrency, t)] for t in ("direct", *PROXIES)}
        gateway = row["gateway"]
        print(
            f"{upstream:<8} {body:<5} {concurrency:>3} "
            f"{gateway['rps'] / row['nginx']['rps']:>14.2f} "
            f"{gateway['p50_ms'] - row['direct']['p50_ms']:>+16.3f} "
            f"{gateway['cpu_us'] / max(row['nginx']['cpu_us'], 1e-9):>12.2f} "
            f"{gateway['cpu_us'] - row['haproxy']['cpu_us']:>14.1f} {gateway['cpu_us']:>12.1f}"
        )
    print("(rules us/call: the gateway's CPU per call above plain HAProxy's in the same run)")
    print("\ntargets:")
    for line in verdicts(medians):
        print(f"  {line}")


def verdicts(medians: Medians) -> list[str]:
    """Each target, met or not, with the figures of this run that judge it."""
    rows = sorted({key[:3] for key in medians})

    def of(row: tuple[str, str, int], target: str, field: str) -> float:
        return medians[(*row, target)][field]

    def name(row: tuple[str, str, int]) -> str:
        return f"{row[0]} {row[1]} c={row[2]}"

    def met(ok: bool) -> str:
        return "met" if ok else "NOT met"

    lines = []
    shares = {row: of(row, "gateway", "rps") / of(row, "nginx", "rps") for row in rows}
    if shares:
        lowest = min(shares, key=shares.__getitem__)
        lines.append(
            f"req/s >= {TARGET_RPS_SHARE}x nginx's in every row: "
            f"{met(shares[lowest] >= TARGET_RPS_SHARE)} "
            f"(lowest {shares[lowest]:.4f}x, {name(lowest)}: {of(lowest, 'gateway', 'rps'):,.0f} "
            f"against nginx's {of(lowest, 'nginx', 'rps'):,.0f})"
        )
    for row in (row for row in rows if row[1:] == ("small", 1)):
        added = {t: of(row, t, "p50_ms") - of(row, "direct", "p50_ms") for t in PROXIES}
        lines.append(
            f"p50 <= +{TARGET_P50_ADDED_MS} ms over direct, {name(row)}: "
            f"{met(added['gateway'] <= TARGET_P50_ADDED_MS)} ({added['gateway']:+.3f} ms; "
            f"nginx {added['nginx']:+.3f}, plain HAProxy {added['haproxy']:+.3f})"
        )
    allowed_share = TARGET_CPU_US / NGINX_CPU_US_WHERE_SET
    for row in (row for row in rows if row[1:] == ("small", 16)):
        cpu = {t: of(row, t, "cpu_us") for t in PROXIES}
        share = cpu["gateway"] / cpu["nginx"]
        lines.append(
            f"CPU <= {TARGET_CPU_US:.0f} us per call, {name(row)}: "
            f"{met(cpu['gateway'] <= TARGET_CPU_US)} ({cpu['gateway']:.1f} us; nginx "
            f"{cpu['nginx']:.1f}, plain HAProxy {cpu['haproxy']:.1f}); as a share of nginx's, "
            f"<= {allowed_share:.2f}x: {met(share <= allowed_share)} ({share:.2f}x)"
        )
    return lines


if __name__ == "__main__":
    raise SystemExit(main())
