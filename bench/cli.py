"""Command start-up: `alertmail --help`, `sendmail` and `notify` against `python3 -c pass` (and msmtp).

    .venv/bin/python -m bench.cli [--runs 7]

Each command runs `--runs` times on a data directory already migrated and configured (so what is
timed is what an alert pays: start, open the database, queue, exit); the median wall time is
printed beside the same run's baselines: `python3 -c pass` (the interpreter's own start) and, when
installed, msmtp sending one message through a whole SMTP session to a local aiosmtpd server.
Goals (issue #18): `--help` <= 25 x `python3 -c pass`; `sendmail` <= 5 x msmtp.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from bench.common import configure_without_relay, free_port, load_average, median

MESSAGE = b"From: app@example.com\nTo: ops@example.com\nSubject: disk full\n\n/var is 98% full\n"


def timed(command: Sequence[str], *, env: dict[str, str], stdin: bytes = b"", runs: int) -> float:
    """Median seconds of `runs` runs; the command must succeed."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        done = subprocess.run(command, input=stdin, env=env, capture_output=True, check=False)
        times.append(time.perf_counter() - started)
        if done.returncode != 0:
            raise RuntimeError(f"{command}: {done.stderr.decode()[-500:]}")
    return median(times)


def msmtp_time(runs: int) -> float | None:
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
            ("python3 -c pass", baseline),
            ("alertmail --help", timed([*alertmail, "--help"], env=env, runs=runs)),
            (
                "alertmail sendmail -t (queues)",
                timed([*alertmail, "sendmail", "-t"], env=env, stdin=MESSAGE, runs=runs),
            ),
            ("alertmail notify test", timed([*alertmail, "notify", "test"], env=env, runs=runs)),
        ]
        msmtp = msmtp_time(runs)
    print(f"command start-up, median of {runs} runs; {load_average()}")
    for label, seconds in rows:
        print(f"  {label:32s} {seconds * 1000:7.0f} ms   {seconds / baseline:5.1f} x python3 -c pass")
    sendmail = rows[2][1]
    if msmtp is None:
        print("  msmtp: not installed (apt-get install msmtp to compare)")
    else:
        print(
            f"  {'msmtp, whole SMTP session':32s} {msmtp * 1000:7.0f} ms   "
            f"sendmail / msmtp = {sendmail / msmtp:.1f}"
        )
    print("  goals: --help <= 25 x python3 -c pass; sendmail <= 5 x msmtp")


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=7)
    return parser.parse_args()


if __name__ == "__main__":
    main(parse())
