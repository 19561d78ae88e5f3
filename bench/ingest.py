"""Ingestion: `POST /api/v1/events` through `alertmail serve`, beside a minimal baseline, same run.

    .venv/bin/python -m bench.ingest [--events 4000] [--rates 100,500] [--seconds 10]
                                     [--connections 32] [--processes 2] [--databases sqlite,postgresql]

For each database (PostgreSQL from ALERTMAIL_TEST_POSTGRES_URL, skipped when unreachable):
- alertmail: a real `alertmail serve` (delivery worker on, relaying to the STARTTLS + AUTH PLAIN
  sink of bench/sink.py), an administrator's API token on every request;
- baseline: bench/baseline_app.py, a minimal FastAPI + SQLAlchemy endpoint with one writer that
  commits batches (group commit), on its own database of the same kind.
Each is measured twice: throughput (`--events` as fast as `--connections` keep-alive connections
get them accepted; with the server process's CPU time per accepted event, all its threads, the
steadier figure on a shared machine), then latency at each of `--rates` offered per second for
`--seconds` s on a fixed schedule (open loop: latency counts from the scheduled send, so a stall
is not hidden).
The client is bench/lean_http.py (raw HTTP/1.1, `--processes` processes); its own ceiling, against
a server that answers at once, is printed first. Events: 5 failover types, dedupe keys drawn from
200 per type, so most are repeats folded into digests, as in a real incident.
Goals (issue #18): >= 1,000 events/s and >= 0.75 of the baseline; p99 < 20 ms at 500/s.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

from bench.common import (
    ServeProcess,
    cpu_seconds,
    free_port,
    load_average,
    percentile,
    postgres_database,
    prepare_data_dir,
    sink_process,
    to_async,
)
from bench.lean_http import Result, Target, client_ceiling, run_closed, run_open

TYPES = (
    "failover.backup_becoming_primary",
    "failover.backup_cannot_reach_primary_by_hostname",
    "failover.backup_cannot_reach_test_ips",
    "failover.shared_ip_not_assigned",
    "failover.version_mismatch",
)


def event(number: int) -> dict[str, Any]:
    rng = random.Random(number)
    return {
        "type": TYPES[number % len(TYPES)],
        "details": {"node": f"backup-{rng.randrange(200)}", "sequence": number},
        "dedupe_key": f"node-{rng.randrange(200)}",
    }


def offset_event(offset: int, number: int) -> dict[str, Any]:
    return event(offset + number)


@contextmanager
def baseline(database_url: str) -> Iterator[tuple[Target, int]]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.baseline_app", to_async(database_url), str(port)]
    )
    try:
        serve = ServeProcess.__new__(ServeProcess)  # reuse its health wait on the baseline's URL
        serve.url, serve.process = f"http://127.0.0.1:{port}", process
        asyncio.run(serve.wait_healthy())
        yield Target("127.0.0.1", port, "/api/v1/events", "none"), process.pid
    finally:
        process.terminate()
        process.wait()


@contextmanager
def alertmail(database_url: str, tmp: Path) -> Iterator[tuple[Target, int]]:
    with sink_process() as (sink, certificates):
        data_dir = tmp / "alertmail"
        token = asyncio.run(prepare_data_dir(data_dir, sink, certificates, database_url=database_url))
        serve = ServeProcess(data_dir, **({"database_url": database_url} if database_url else {}))
        try:
            asyncio.run(serve.wait_healthy())
            yield Target("127.0.0.1", serve.port, "/api/v1/events", token), serve.pid
        finally:
            serve.stop()


@contextmanager
def database(kind: str, tmp: Path, name: str) -> Iterator[str | None]:
    if kind == "sqlite":
        (tmp / name).mkdir(exist_ok=True)
        yield f"sqlite:///{tmp / name / 'bench.db'}" if name == "baseline" else ""
        return
    with postgres_database() as url:
        yield url


def measure(served: tuple[Target, int], arguments: argparse.Namespace, offset: int) -> list[str]:
    target, pid = served
    run_closed(target, event, 50, connections=4)  # warm: connections, caches, first window rows
    cpu = cpu_seconds(pid)
    closed = run_closed(
        target, event, arguments.events, connections=arguments.connections, processes=arguments.processes
    )
    per_event = (cpu_seconds(pid) - cpu) / max(closed.accepted, 1) * 1000
    lines = [
        f"throughput {closed.per_second:7.0f}/s  (server CPU {per_event:.3f} ms/event; "
        f"{_refused(closed)}; {load_average()})"
    ]
    for rate in arguments.rates:
        opened = run_open(
            target, partial(offset_event, offset), rate, arguments.seconds, processes=arguments.processes
        )
        lines.append(
            f"at {rate:4.0f}/s offered: p50 {percentile(opened.latencies, 0.5) * 1000:6.1f} ms  "
            f"p99 {percentile(opened.latencies, 0.99) * 1000:6.1f} ms  "
            f"({opened.per_second:.0f}/s accepted, {_refused(opened)}; {load_average()})"
        )
    return lines


def _refused(result: Result) -> str:
    return f"{result.sent - result.accepted} of {result.sent} not accepted"


def main(arguments: argparse.Namespace) -> None:
    ceiling = client_ceiling(
        event, arguments.events, connections=arguments.connections, processes=arguments.processes
    )
    print(
        f"client ceiling (lean HTTP/1.1, {arguments.processes} process(es), a server answering at once): "
        f"{ceiling.per_second:.0f} requests/s; {load_average()}"
    )
    for kind in arguments.databases:
        with tempfile.TemporaryDirectory(prefix="alertmail-bench-") as directory:
            tmp = Path(directory)
            with database(kind, tmp, "alertmail") as mine, database(kind, tmp, "baseline") as theirs:
                if mine is None or theirs is None:
                    print(f"{kind}: skipped (PostgreSQL not reachable)")
                    continue
                with alertmail(mine, tmp) as served:
                    ours = measure(served, arguments, 1_000_000)
                with baseline(theirs) as served:
                    base = measure(served, arguments, 2_000_000)
        print(f"\n{kind}:")
        for label, lines in (("alertmail serve", ours), ("baseline (FastAPI + group commit)", base)):
            print(f"  {label}")
            for line in lines:
                print(f"    {line}")
        print(
            f"  ratio alertmail / baseline: {_throughput(ours) / _throughput(base):.2f} throughput, "
            f"{_cpu(base) / _cpu(ours):.2f} in CPU per event (baseline's / alertmail's)"
        )


def _throughput(lines: list[str]) -> float:
    return float(lines[0].split()[1].removesuffix("/s"))


def _cpu(lines: list[str]) -> float:
    return float(lines[0].split("server CPU ")[1].split()[0])


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=4000)
    parser.add_argument("--rates", type=lambda s: [float(r) for r in s.split(",")], default=[100.0, 500.0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--databases", type=lambda s: s.split(","), default=["sqlite", "postgresql"])
    return parser.parse_args()


if __name__ == "__main__":
    main(parse())
