"""The Delivery tab with a large outbox: 100,000 messages over 7 days (SQLite), the page timed in-process.

Times GET /mail-settings/delivery (health strip, 7-day chart, first page of messages), the same
filtered to dead messages, and a page far down the list through its keyset cursor, each `--rounds`
times through httpx's ASGI transport (no network): median and 95th percentile in milliseconds.
Run: `.venv/bin/python -m bench.delivery_page [--messages 100000] [--rounds 20]`.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import re
import statistics
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import insert

from alertmail.adapters.storage.models import OutboxRow
from alertmail.adapters.storage.outbox_repository import outbox_values
from alertmail.composition import Container
from alertmail.config import AppConfig
from alertmail.domain.outbox import RetryPolicy, new_outbox_message
from alertmail.interfaces.api.app import create_app

ADMIN, PASSWORD = "bench-admin", "bench password 123"
STATUSES = ("sent",) * 90 + ("dead",) * 6 + ("retry_wait",) * 2 + ("waiting_config",) * 2
PAGE = "/mail-settings/delivery"


async def fill(container: Container, count: int) -> None:
    now, rng, policy = datetime.now(UTC), random.Random(19), RetryPolicy()
    later = now + timedelta(days=1)  # never due during the run: the worker stays idle
    rows = []
    for n in range(count):
        created = now - timedelta(seconds=rng.uniform(0, 7 * 86400))
        message = new_outbox_message(
            event_type="failover.completed",
            recipients=("ops@example.com", "oncall@example.com"),
            subject=f"Alert {n}",
            text="body",
            html="<p>body</p>",
            from_address="alerts@example.com",
            now=created,
            policy=policy,
        )
        status = rng.choice(STATUSES)
        # A dead message died some minutes to a day after it was queued (not in the future).
        died = min(created + timedelta(minutes=rng.uniform(1, 24 * 60)), now) if status == "dead" else None
        message = replace(message, status=status, attempts=1 + n % 3, next_attempt_at=later, dead_at=died)
        rows.append(outbox_values(message))
    async with container.database.sessionmaker.begin() as session:
        for start in range(0, count, 5000):
            await session.execute(insert(OutboxRow), rows[start : start + 5000])


async def timed(client: httpx.AsyncClient, url: str, rounds: int) -> tuple[float, float]:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        answer = await client.get(url)
        times.append((time.perf_counter() - started) * 1000)
        assert answer.status_code == 200, answer.status_code
    times.sort()
    return statistics.median(times), times[int(0.95 * (len(times) - 1))]


async def sign_in(client: httpx.AsyncClient) -> None:
    form = await client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert token
    data = {"csrf_token": token.group(1), "username": ADMIN, "password": PASSWORD}
    assert (await client.post("/login", data=data)).status_code == 303


async def far_page(client: httpx.AsyncClient, steps: int) -> str:
    url = PAGE
    for _ in range(steps):
        older = re.search(
            r'href="(/mail-settings/delivery\?[^"]*before=[^"]+)">Older', (await client.get(url)).text
        )
        assert older
        url = older.group(1).replace("&amp;", "&")
    return url


async def main(arguments: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="alertmail-bench-delivery-") as directory:
        app = create_app(AppConfig(data_dir=Path(directory), node_name="bench", heartbeat_seconds=3600))
        async with app.router.lifespan_context(app):
            container: Container = app.state.container
            await container.administrators.create(ADMIN, email=None, password=PASSWORD)
            started = time.perf_counter()
            await fill(container, arguments.messages)
            print(f"seeded {arguments.messages} messages in {time.perf_counter() - started:.1f} s")
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://bench.test") as client:
                await sign_in(client)
                urls = {
                    "first page": PAGE,
                    "dead only": PAGE + "?status=dead",
                    "page 40 (keyset)": await far_page(client, 39),
                    "events": PAGE + "/events",
                }
                for name, url in urls.items():
                    p50, p95 = await timed(client, url, arguments.rounds)
                    print(f"{name:18} p50 {p50:6.1f} ms   p95 {p95:6.1f} ms")


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=20)
    return parser.parse_args()


if __name__ == "__main__":
    asyncio.run(main(parse()))
