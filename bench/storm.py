"""Storm memory: peak RSS of `alertmail serve` during a 10,000-event alert storm, and the e-mails sent.

    .venv/bin/python -m bench.storm [--events 10000] [--concurrency 16] [--window-minutes 1]

A real `alertmail serve` process (SQLite, worker and scheduler on) relaying to the STARTTLS + AUTH
PLAIN sink of bench/sink.py takes `--events` events of 5 types (100 dedupe keys each) through
`POST /api/v1/events`. Its memory is read from /proc/PID/status (VmRSS sampled, VmHWM = peak) while
the storm runs and until the digests of the windows it touched have gone out (the coalescing window
is shortened to `--window-minutes` so that they do within the run; the scheduler flushes every 15 s).
Goal (issue #5): peak RSS under 200 MB; e-mails bounded by 5 x (max_mailed_keys + 1) per window.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from alertmail.domain.events import coalescing_bucket
from bench.common import ServeProcess, load_average, memory_of, prepare_data_dir, sink_process
from bench.ingest import TYPES
from bench.sink import SinkProcess

MAX_MAILED_KEYS = 10  # AppConfig.coalesce_max_keys, the default


async def storm(http: httpx.AsyncClient, count: int, concurrency: int) -> int:
    rng = random.Random(3)
    numbers = iter(range(count))
    accepted = 0

    async def client() -> None:
        nonlocal accepted
        for number in numbers:
            body = {
                "type": TYPES[number % len(TYPES)],
                "details": {"probe": f"10.0.0.{rng.randrange(255)}", "sequence": number},
                "dedupe_key": f"node-{rng.randrange(100)}",
            }
            response = await http.post("/api/v1/events", json=body)
            accepted += response.status_code == 202

    await asyncio.gather(*(client() for _ in range(concurrency)))
    return accepted


async def sample_memory(pid: int, peak: dict[str, int], stop: asyncio.Event) -> None:
    while not stop.is_set():
        try:
            now = memory_of(pid)
        except FileNotFoundError:
            return
        peak["VmRSS"] = max(peak.get("VmRSS", 0), now["VmRSS"])
        peak["VmHWM"] = now["VmHWM"]
        await asyncio.sleep(0.2)


async def main(arguments: argparse.Namespace) -> None:
    window = timedelta(minutes=arguments.window_minutes)
    with (
        sink_process() as (sink, certificates),
        tempfile.TemporaryDirectory(prefix="alertmail-bench-") as tmp,
    ):
        data_dir = Path(tmp) / "data"
        token = await prepare_data_dir(data_dir, sink, certificates)
        serve = ServeProcess(data_dir, coalesce_window_minutes=str(arguments.window_minutes))
        try:
            await serve.wait_healthy()
            at_start = memory_of(serve.pid)
            peak: dict[str, int] = {}
            stop = asyncio.Event()
            sampler = asyncio.create_task(sample_memory(serve.pid, peak, stop))
            headers = {"Authorization": f"Bearer {token}"}
            async with httpx.AsyncClient(
                base_url=serve.url, headers=headers, timeout=60, trust_env=False
            ) as http:
                first = datetime.now(UTC)
                started = time.perf_counter()
                accepted = await storm(http, arguments.events, arguments.concurrency)
                elapsed = time.perf_counter() - started
                last = datetime.now(UTC)
            windows = _windows_between(first, last, window)
            # The digests go when the last window has ended and the scheduler has ticked (15 s).
            _, last_end = coalescing_bucket(last, window)
            await asyncio.sleep(max(0.0, (last_end - datetime.now(UTC)).total_seconds()) + 16)
            sent = await _settled(sink)
            stop.set()
            await sampler
            peak["VmHWM"] = memory_of(serve.pid)["VmHWM"]
        finally:
            serve.stop()
    bound = windows * len(TYPES) * (MAX_MAILED_KEYS + 1)
    print(f"storm of {arguments.events} events through `alertmail serve` (SQLite); {load_average()}")
    print(
        f"  accepted {accepted} events in {elapsed:.1f} s "
        f"({accepted / elapsed:.0f}/s, {arguments.concurrency} clients)"
    )
    print(
        f"  RSS: {at_start['VmRSS'] / 1024:.1f} MB at start, peak (VmHWM) {peak['VmHWM'] / 1024:.1f} MB"
        f"   (goal < 200 MB)"
    )
    print(
        f"  e-mails sent: {sent} over {windows} coalescing window(s) of {arguments.window_minutes:g} min "
        f"(bound {bound} = windows x {len(TYPES)} types x ({MAX_MAILED_KEYS} + 1))"
    )


def _windows_between(first: datetime, last: datetime, window: timedelta) -> int:
    start, _ = coalescing_bucket(first, window)
    end_start, _ = coalescing_bucket(last, window)
    return int((end_start - start) / window) + 1


async def _settled(sink: SinkProcess) -> int:
    """The sink's message count once it has not changed for 3 s."""
    count, still = -1, 0
    while still < 3:
        now = sink.stats()["messages"]
        still = still + 1 if now == count else 0
        count = now
        await asyncio.sleep(1)
    return count


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--window-minutes", type=float, default=1.0)
    return parser.parse_args()


if __name__ == "__main__":
    asyncio.run(main(parse()))
