"""Serve start-up and idle size: `alertmail serve` against a minimal FastAPI app, same run.

    .venv/bin/python -m bench.serve [--runs 3] [--idle 30]

Readiness: from starting the process to the first `GET /healthz` answered 200 (median of
`--runs`), and the process's CPU time (user + system) by then, steadier on a shared machine.
Idle: RSS (VmRSS) and threads `--idle` seconds after readiness, nothing asked of it.
The baseline is bench/baseline_app.py on SQLite under uvicorn: FastAPI, SQLAlchemy, one table.
alertmail's data directory is migrated and configured beforehand (a restart, not a first start).
Goals (issue #18): readiness <= 1.5 x the baseline; idle RSS < 100 MB.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from bench.common import ServeProcess, configure_without_relay, free_port, load_average, median, memory_of


async def _ready(url: str, process: subprocess.Popen[bytes], within: float = 60) -> None:
    deadline = time.monotonic() + within
    async with httpx.AsyncClient(trust_env=False) as http:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"{process.args} exited")
            try:
                if (await http.get(url + "/healthz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.01)
    raise RuntimeError(f"{process.args} did not come up")


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (steadier than wall time on a shared machine)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _threads(pid: int) -> int:
    return len(list(Path(f"/proc/{pid}/task").iterdir()))


def measure(
    start: Callable[[], tuple[subprocess.Popen[bytes], str]], runs: int, idle: float
) -> dict[str, float]:
    readiness: list[float] = []
    cpu: list[float] = []
    rss_kib = threads = 0
    for number in range(runs):
        started = time.perf_counter()
        process, url = start()
        try:
            asyncio.run(_ready(url, process))
            readiness.append(time.perf_counter() - started)
            cpu.append(_cpu_seconds(process.pid))
            if number == runs - 1:
                time.sleep(idle)
                rss_kib, threads = memory_of(process.pid)["VmRSS"], _threads(process.pid)
        finally:
            process.terminate()
            process.wait()
    return {"ready": median(readiness), "cpu": median(cpu), "rss": rss_kib / 1024, "threads": threads}


def start_alertmail(data_dir: Path) -> Callable[[], tuple[subprocess.Popen[bytes], str]]:
    def start() -> tuple[subprocess.Popen[bytes], str]:
        serve = ServeProcess(data_dir)
        return serve.process, serve.url

    return start


def start_baseline(directory: Path) -> Callable[[], tuple[subprocess.Popen[bytes], str]]:
    def start() -> tuple[subprocess.Popen[bytes], str]:
        port = free_port()
        url = f"sqlite+aiosqlite:///{directory / 'baseline.db'}"
        process = subprocess.Popen(
            [sys.executable, "-m", "bench.baseline_app", url, str(port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        return process, f"http://127.0.0.1:{port}"

    return start


def main(arguments: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="alertmail-bench-serve-") as tmp:
        directory = Path(tmp)
        asyncio.run(configure_without_relay(directory / "data", administrator=True))
        ours = measure(start_alertmail(directory / "data"), arguments.runs, arguments.idle)
        base = measure(start_baseline(directory), arguments.runs, arguments.idle)
    print(
        f"serve start-up (median of {arguments.runs}) and idle after {arguments.idle:g} s; {load_average()}"
    )
    for label, figures in (("alertmail serve", ours), ("minimal FastAPI app", base)):
        print(
            f"  {label:22s} ready in {figures['ready'] * 1000:6.0f} ms (CPU {figures['cpu'] * 1000:4.0f} ms)"
            f"   idle RSS {figures['rss']:5.1f} MiB"
            f"   {figures['threads']:.0f} threads"
        )
    print(
        f"  readiness ratio {ours['ready'] / base['ready']:.2f} (goal <= 1.5), in CPU time"
        f" {ours['cpu'] / base['cpu']:.2f}; idle RSS goal < 100 MB"
    )


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--idle", type=float, default=30.0)
    return parser.parse_args()


if __name__ == "__main__":
    main(parse())
