"""What the benchmarks share: certificates, the sink process, alertmail processes, statistics."""

from __future__ import annotations

import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import trustme

from alertmail.composition import Container, open_container
from alertmail.config import AppConfig
from bench.sink import PASSWORD, USERNAME, SinkProcess

ADMIN = "bench-admin"


@dataclass(frozen=True)
class Certificates:
    ca_pem: str
    cert: Path
    key: Path


def make_certificates(directory: Path) -> Certificates:
    ca = trustme.CA()
    leaf = ca.issue_cert("localhost", "127.0.0.1")
    cert, key = directory / "sink-cert.pem", directory / "sink-key.pem"
    cert.write_bytes(b"".join(blob.bytes() for blob in leaf.cert_chain_pems))
    key.write_bytes(leaf.private_key_pem.bytes())
    return Certificates(ca.cert_pem.bytes().decode(), cert, key)


@contextmanager
def sink_process(reply_delay_ms: float = 0.0) -> Iterator[tuple[SinkProcess, Certificates]]:
    """A STARTTLS + AUTH PLAIN sink in its own process, with the CA that signed its certificate."""
    with tempfile.TemporaryDirectory(prefix="alertmail-bench-sink-") as directory:
        certificates = make_certificates(Path(directory))
        sink = SinkProcess(certificates.cert, certificates.key, reply_delay_ms).start()
        try:
            yield sink, certificates
        finally:
            sink.stop()


def relay_settings(sink: SinkProcess, certificates: Certificates, **changes: Any) -> dict[str, Any]:
    return {
        "from_address": "alerts@example.com",
        "email_type": "smtp",
        "hostname": "127.0.0.1",
        "port": sink.port,
        "encryption": "starttls",
        "auth_type": "basic",
        "username": USERNAME,
        "password": PASSWORD,
        "tls_trusted_ca": certificates.ca_pem,
        "admin_contacts": ["ops@example.com"],
        **changes,
    }


async def prepare_data_dir(
    data_dir: Path, sink: SinkProcess, certificates: Certificates, *, database_url: str = "", **changes: Any
) -> str:
    """Configure alertmail on `data_dir` for the sink; an administrator and its API token (returned)."""
    config = AppConfig(data_dir=data_dir, node_name="bench", database_url=database_url)
    async with open_container(config) as container:
        await configure(container, sink, certificates, **changes)
        await container.administrators.create(ADMIN, email="admin@example.com", password="bench password!")
        _, token = await container.administrators.create_token("bench", administrator=ADMIN)
    return token


async def configure(
    container: Container, sink: SinkProcess, certificates: Certificates, **changes: Any
) -> None:
    await container.settings.save(relay_settings(sink, certificates, **changes), actor="bench")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class ServeProcess:
    """`alertmail serve` on a data directory, as a separate process."""

    def __init__(self, data_dir: Path, **settings: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("ALERTMAIL_")}
        env["ALERTMAIL_DATA_DIR"] = str(data_dir)
        env.update({f"ALERTMAIL_{name.upper()}": value for name, value in settings.items()})
        self._log = (data_dir.parent / "serve.log").open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "alertmail", "serve", "--port", str(self.port)],
            stdout=self._log,
            stderr=self._log,
            env=env,
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    async def wait_healthy(self, within: float = 60) -> None:
        deadline = time.monotonic() + within
        async with httpx.AsyncClient(trust_env=False) as http:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError("alertmail serve exited; see serve.log")
                try:
                    if (await http.get(self.url + "/healthz")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
        raise RuntimeError("alertmail serve did not come up")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._log.close()


def memory_of(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak RSS) of a process, in kB, from /proc."""
    found: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            found[name] = int(value.split()[0])
    return found


def percentile(values: Sequence[float], fraction: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far, all its threads, from /proc/PID/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def load_average() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} / {five:.2f} on {os.cpu_count()} CPU(s)"


POSTGRES_ADMIN_URL = os.environ.get(
    "ALERTMAIL_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


@contextmanager
def postgres_database(admin_url: str = POSTGRES_ADMIN_URL) -> Iterator[str | None]:
    """A fresh PostgreSQL database's URL (dropped afterwards), or None when the server is unreachable."""
    import uuid

    import psycopg

    name = f"alertmail_bench_{uuid.uuid4().hex[:12]}"
    try:
        with psycopg.connect(admin_url, autocommit=True, connect_timeout=3) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError:
        yield None
        return
    base, _, _ = admin_url.rpartition("/")
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def to_async(url: str) -> str:
    return url.replace("postgresql://", "postgresql+psycopg://", 1).replace(
        "sqlite://", "sqlite+aiosqlite://", 1
    )


async def configure_without_relay(data_dir: Path, *, administrator: bool = False) -> None:
    """A migrated, configured data directory whose relay is never reached (for start-up figures)."""
    async with open_container(AppConfig(data_dir=data_dir, node_name="bench")) as container:
        settings = {"from_address": "alerts@example.com", "hostname": "127.0.0.1", "port": 2525}
        await container.settings.save(settings | {"admin_contacts": ["ops@example.com"]}, actor="bench")
        if administrator:
            await container.administrators.create(
                ADMIN, email="admin@example.com", password="bench password!"
            )
