"""Command start-up: `alertmail --help`, `sendmail` and `notify` against `python -c pass` (and msmtp).

    .venv/bin/python -m bench.cli [--runs 7]

Each command runs `--runs` times on a data directory already migrated and configured (so what is
timed is what an alert pays: start, open the database, queue, exit); the median wall time is
printed beside the same run's baselines: `python -c pass` (the same interpreter's own start) and, when
installed, msmtp sending one message through a whole SMTP session to a local aiosmtpd server.
Goals (issue #18): `--help` <= 25 x `python -c pass`; `sendmail` <= 5 x msmtp. The CPU time
(user + system) of each is printed too: on a loaded machine it is the steadier comparison.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.common import configure_without_relay, free_port, load_average, median

MESSAGE = b"From: app@example.com\nTo: ops@example.com\nSubject: disk full\n\n/var is 98% full\n"


@dataclass(frozen=True)
class Timing:
    """Medians of several runs: wall time, and the CPU time (user + system) the command used.

    On a machine shared with other jobs the wall time grows with the load; the CPU time much less,
    so its ratios are the steadier comparison there.
    """

    wall: float
    cpu: float


def timed(command: Sequence[str], *, env: dict[str, str], stdin: bytes = b"", runs: int) -> Timing:
    """Median wall and CPU seconds of `runs` runs; the command must succeed."""
    walls, cpus = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        done = subprocess.run(command, input=stdin, env=env, capture_output=True, check=False)
        walls.append(time.perf_counter() - started)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
        if done.returncode != 0:
            raise RuntimeError(f"{command}: {done.stderr.decode()[-500:]}")
    return Timing(median(walls), median(cpus))


def msmtp_time(runs: int) -> Timing | None:
    """msmtp handing one message to a local SMTP server, whole session; None when not installed."""
    msmtp = shutil.which("msmtp")
    if msmtp is None:
        return None
    from aiosmtpd.controller import Controller
    from aiosmtpd.handlers import Sink

    controller = Controller(Sink(), hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        command = [msmtp, "--host=127.0.0.1", f"--port={controller.port}", "--from=app@example.com", "-t"]
        return timed(command, env=dict(os.environ), stdin=MESSAGE, runs=runs)
    finally:
        controller.stop()


def main(arguments: argparse.Namespace) -> None:
    runs = arguments.runs
    with tempfile.TemporaryDirectory(prefix="alertmail-bench-cli-") as tmp:
        data_dir = Path(tmp) / "data"
        asyncio.run(configure_without_relay(data_dir))
        env = {k: v for k, v in os.environ.items() if not k.startswith("ALERTMAIL_")}
        env["ALERTMAIL_DATA_DIR"] = str(data_dir)
        alertmail = [sys.executable, "-m", "alertmail"]
        # The interpreter alertmail runs on: `python3` on PATH may be a shim (pyenv's is a shell
        # script costing several times the interpreter's own start).
        baseline = timed([sys.executable, "-c", "pass"], env=env, runs=runs)
        rows = [
            ("python -c pass (same interpreter)", baseline),
            ("alertmail --help", timed([*alertmail, "--help"], env=env, runs=runs)),
            (
                "alertmail sendmail -t (queues)",
                timed([*alertmail, "sendmail", "-t"], env=env, stdin=MESSAGE, runs=runs),
            ),
            ("alertmail notify test", timed([*alertmail, "notify", "test"], env=env, runs=runs)),
        ]
        msmtp = msmtp_time(runs)
    print(f"command start-up, median of {runs} runs; {load_average()}")
    print(f"  {'':32s} {'wall':>7s}      ratio   {'CPU':>7s}      ratio")
    for label, timing in rows:
        print(
            f"  {label:32s} {timing.wall * 1000:7.0f} ms {timing.wall / baseline.wall:6.1f} x "
            f"{timing.cpu * 1000:7.0f} ms {timing.cpu / baseline.cpu:6.1f} x  (x: of python -c pass)"
        )
    sendmail = rows[2][1]
    if msmtp is None:
        print("  msmtp: not installed (apt-get install msmtp to compare)")
    else:
        print(
            f"  {'msmtp, whole SMTP session':32s} {msmtp.wall * 1000:7.0f} ms {'':8s} "
            f"{msmtp.cpu * 1000:7.0f} ms\n"
            f"  sendmail / msmtp = {sendmail.wall / msmtp.wall:.1f} (wall), "
            f"{sendmail.cpu / msmtp.cpu:.1f} (CPU)"
        )
    print("  goals: --help <= 25 x python -c pass; sendmail <= 5 x msmtp")


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=7)
    return parser.parse_args()


if __name__ == "__main__":
    main(parse())
