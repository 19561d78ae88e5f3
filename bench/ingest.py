"""Ingestion: `POST /api/v1/events` accepted per second, and latency at a fixed offered rate.

    .venv/bin/python -m bench.ingest [--events 2000] [--concurrency 16] [--rate 100] [--seconds 10]

A real `alertmail serve` process (SQLite, its delivery worker on) relaying to the STARTTLS + AUTH
PLAIN sink of bench/sink.py, driven by an httpx async client with an API token:
1. throughput: `--events` events as fast as `--concurrency` clients get them accepted (202);
2. latency: `--rate` events a second for `--seconds` s, each sent on schedule whatever the others
   are doing (open loop, no coordinated omission); p50/p99 from the scheduled send to the 202.
Events: 5 failover types, dedupe keys drawn from 200 per type, so most events are repeats folded
into digests and some are mailed at once, as in a real incident.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench.common import ServeProcess, load_average, percentile, prepare_data_dir, sink_process

TYPES = (
    "failover.backup_becoming_primary",
    "failover.backup_cannot_reach_primary_by_hostname",
    "failover.backup_cannot_reach_test_ips",
    "failover.shared_ip_not_assigned",
    "failover.version_mismatch",
)


def event(number: int, rng: random.Random) -> dict[str, Any]:
    return {
        "type": TYPES[number % len(TYPES)],
        "details": {"node": f"backup-{rng.randrange(200)}", "sequence": number},
        "dedupe_key": f"node-{rng.randrange(200)}",
    }


async def throughput(http: httpx.AsyncClient, count: int, concurrency: int) -> tuple[float, int]:
    """Accepted events a second; and how many were not accepted."""
    rng = random.Random(1)
    numbers = iter(range(count))
    refused = 0

    async def client() -> None:
        nonlocal refused
        for number in numbers:
            response = await http.post("/api/v1/events", json=event(number, rng))
            if response.status_code != 202:
                refused += 1

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(concurrency)))
    return (count - refused) / (time.perf_counter() - started), refused


async def latency(http: httpx.AsyncClient, rate: float, seconds: float) -> tuple[list[float], int]:
    """Latencies (s) of events offered at `rate` a second, each on schedule; and the failures."""
    rng = random.Random(2)
    latencies: list[float] = []
    failures = 0

    async def one(number: int, scheduled: float) -> None:
        nonlocal failures
        await asyncio.sleep(max(0.0, scheduled - time.perf_counter()))
        response = await http.post("/api/v1/events", json=event(100_000 + number, rng))
        latencies.append(time.perf_counter() - scheduled)
        if response.status_code != 202:
            failures += 1

    start = time.perf_counter() + 0.1
    total = int(rate * seconds)
    await asyncio.gather(*(one(n, start + n / rate) for n in range(total)))
    return latencies, failures


async def main(arguments: argparse.Namespace) -> None:
    with (
        sink_process() as (sink, certificates),
        tempfile.TemporaryDirectory(prefix="alertmail-bench-") as tmp,
    ):
        data_dir = Path(tmp) / "data"
        token = await prepare_data_dir(data_dir, sink, certificates)
        serve = ServeProcess(data_dir)
        try:
            await serve.wait_healthy()
            limits = httpx.Limits(max_connections=max(arguments.concurrency, 200))
            headers = {"Authorization": f"Bearer {token}"}
            async with httpx.AsyncClient(
                base_url=serve.url, headers=headers, limits=limits, timeout=60, trust_env=False
            ) as http:
                for warm in range(20):  # open the connections, fill the caches
                    await http.post("/api/v1/events", json=event(1_000_000 + warm, random.Random(warm)))
                accepted, refused = await throughput(http, arguments.events, arguments.concurrency)
                await asyncio.sleep(2)  # let the worker catch up before the latency run
                latencies, failures = await latency(http, arguments.rate, arguments.seconds)
            delivered = sink.stats()["messages"]
        finally:
            serve.stop()
    print(f"ingestion through `alertmail serve` (SQLite, worker on); {load_average()}")
    print(
        f"  throughput: {accepted:7.1f} events/s accepted "
        f"({arguments.events} events, {arguments.concurrency} concurrent clients, {refused} not accepted)"
    )
    print(
        f"  latency at {arguments.rate:g}/s for {arguments.seconds:g} s ({len(latencies)} events, "
        f"{failures} not accepted): p50 {percentile(latencies, 0.5) * 1000:.1f} ms, "
        f"p99 {percentile(latencies, 0.99) * 1000:.1f} ms, max {max(latencies) * 1000:.1f} ms"
    )
    print(f"  e-mails the sink received meanwhile: {delivered}")


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    return parser.parse_args()


if __name__ == "__main__":
    asyncio.run(main(parse()))
