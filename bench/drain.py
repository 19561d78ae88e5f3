"""Drain throughput: 2,000 queued messages delivered by alertmail vs. the ceiling vs. naive code.

    .venv/bin/python -m bench.drain [--messages 2000] [--connections 3] [--naive 300] [--rounds 3]
                                    [--reply-delay-ms 0] [--old-rows 0] [--messages-per-minute 0]

All three send the same messages to one sink in a separate process that requires STARTTLS and
AUTH PLAIN (bench/sink.py):
- alertmail: the messages are already committed to the outbox (SQLite); alertmail's
  DeliveryWorker claims, sends over its pooled connections and records them, batch by batch;
- ceiling: a minimal pooled aiosmtplib client with the same number of connections, sending the same
  messages (built beforehand) straight to the sink, recording nothing;
- naive: smtplib, one connection per message (connect, STARTTLS, AUTH, send, QUIT), one at a time;
  measured on the first `--naive` messages, since it is the slow one.
`--messages-per-minute N` sets alertmail's limit: each message then takes a cluster token
(N above the drain's rate measures the tokens' cost, not the limit).
`--reply-delay-ms` makes the sink hold each reply, as a relay across a network would (on
127.0.0.1 a handshake and a login are nearly free, which flatters the naive client).
Goals: alertmail >= 0.9 x ceiling at 2,000 and at 20,000 queued, also with 100,000 old rows
(`--old-rows 100000`; issue #18), and >= 3 x naive (issue #5).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import smtplib
import ssl
import tempfile
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import aiosmtplib
from sqlalchemy import insert

from alertmail.adapters.storage.models import OutboxRow
from alertmail.adapters.storage.outbox_repository import outbox_values
from alertmail.composition import Container, open_container
from alertmail.config import AppConfig
from alertmail.domain.message import build_message
from alertmail.domain.outbox import OutboxMessage, RetryPolicy, new_outbox_message
from bench.common import Certificates, configure, load_average, median, sink_process
from bench.sink import PASSWORD, USERNAME, SinkProcess

FROM = "alerts@example.com"
RECIPIENTS = ("ops@example.com", "oncall@example.com")


@dataclass(frozen=True)
class Rate:
    """A drain: messages per second, and this process's CPU time per message (all its threads;
    the sink runs elsewhere). CPU time is the steadier figure on a shared machine."""

    messages: int
    elapsed: float
    cpu: float

    @property
    def per_second(self) -> float:
        return self.messages / self.elapsed

    @property
    def cpu_ms(self) -> float:
        return self.cpu * 1000 / self.messages


def outbox_messages(count: int) -> list[OutboxMessage]:
    now = datetime.now(UTC)
    return [
        new_outbox_message(
            event_type="failover.backup_becoming_primary",
            recipients=RECIPIENTS,
            subject=f"[bench] Failover: backup becoming primary #{number}",
            text=f"The backup node is becoming the primary node (message {number}).\n" * 8,
            html=f"<p>The backup node is becoming the primary node (message {number}).</p>" * 8,
            from_address=FROM,
            now=now,
            policy=RetryPolicy(),
        )
        for number in range(count)
    ]


def emails(messages: list[OutboxMessage]) -> list[EmailMessage]:
    now = datetime.now(UTC)
    return [
        build_message(
            from_address=FROM,
            to=m.recipients,
            subject=m.subject,
            text=m.text,
            html=m.html,
            sent_at=now,
            message_id=m.message_id,
        )
        for m in messages
    ]


async def insert_rows(container: Container, messages: list[OutboxMessage]) -> None:
    """Outbox rows written in bulk (the enqueueing is not what is measured)."""
    table = OutboxRow.__table__
    for start in range(0, len(messages), 5000):
        rows = [outbox_values(m) for m in messages[start : start + 5000]]
        async with container.database.sessionmaker.begin() as session:
            await session.execute(insert(table), rows)


def old_rows(count: int) -> list[OutboxMessage]:
    """`count` messages sent a day ago: the history a long-running outbox keeps."""
    sent = datetime.now(UTC) - timedelta(days=1)
    return [
        replace(m, status="sent", attempts=1, sent_at=sent, created_at=sent) for m in outbox_messages(count)
    ]


async def run_alertmail(
    messages: list[OutboxMessage],
    sink: SinkProcess,
    certificates: Certificates,
    connections: int,
    history: int = 0,
    per_minute: int = 0,
) -> Rate:
    """alertmail's worker draining an outbox that holds `messages`."""
    with tempfile.TemporaryDirectory(prefix="alertmail-bench-drain-") as directory:
        config = AppConfig(data_dir=Path(directory) / "data", node_name="bench")
        async with open_container(config) as container:
            await configure(
                container, sink, certificates, max_connections=connections, messages_per_minute=per_minute
            )
            await insert_rows(container, old_rows(history) + messages)
            worker = container.delivery_worker
            sink.reset()
            started, cpu = time.perf_counter(), time.process_time()
            while await worker.run_once():
                pass
            elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
            await worker.close()
            counts = await container.outbox.counts()
    _check(sink, len(messages), f"alertmail (outbox: {counts})")
    return Rate(len(messages), elapsed, cpu)


async def run_ceiling(
    prepared: list[EmailMessage], sink: SinkProcess, certificates: Certificates, connections: int
) -> Rate:
    """A minimal pooled aiosmtplib client, `connections` connections."""
    context = ssl.create_default_context(cadata=certificates.ca_pem)
    pending = list(reversed(prepared))

    async def lane() -> None:
        client = aiosmtplib.SMTP(hostname="127.0.0.1", port=sink.port, start_tls=True, tls_context=context)
        await client.connect()
        await client.login(USERNAME, PASSWORD)
        while pending:
            await client.send_message(pending.pop(), sender=FROM, recipients=list(RECIPIENTS))
        await client.quit()

    sink.reset()
    started, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(lane() for _ in range(connections)))
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    _check(sink, len(prepared), "ceiling")
    return Rate(len(prepared), elapsed, cpu)


def run_naive(prepared: list[EmailMessage], sink: SinkProcess, certificates: Certificates) -> Rate:
    """smtplib, a new connection, STARTTLS and login for every message."""
    context = ssl.create_default_context(cadata=certificates.ca_pem)
    sink.reset()
    started, cpu = time.perf_counter(), time.process_time()
    for message in prepared:
        with smtplib.SMTP("127.0.0.1", sink.port, timeout=30) as client:
            client.starttls(context=context)
            client.login(USERNAME, PASSWORD)
            client.send_message(message, from_addr=FROM, to_addrs=list(RECIPIENTS))
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    _check(sink, len(prepared), "naive")
    return Rate(len(prepared), elapsed, cpu)


def _check(sink: SinkProcess, expected: int, who: str) -> None:
    stats = sink.stats()
    if (stats["messages"], stats["unique"]) != (expected, expected):
        raise RuntimeError(f"{who}: the sink got {stats}, expected {expected} unique messages")


async def main(arguments: argparse.Namespace) -> None:
    results: dict[str, list[Rate]] = {"alertmail": [], "ceiling": [], "naive": []}
    with sink_process(arguments.reply_delay_ms) as (sink, certificates):
        for round_number in range(1, arguments.rounds + 1):
            messages = outbox_messages(arguments.messages)
            prepared = emails(messages)
            naive_count = min(arguments.naive, len(prepared))
            gc.collect()
            results["ceiling"].append(await run_ceiling(prepared, sink, certificates, arguments.connections))
            # The ceiling's 20,000 built e-mails, kept alive, made each of alertmail's full garbage
            # collections walk them (1.3 s of its drain): only what naive sends stays.
            prepared = prepared[:naive_count]
            gc.collect()
            results["alertmail"].append(
                await run_alertmail(
                    messages,
                    sink,
                    certificates,
                    arguments.connections,
                    arguments.old_rows,
                    arguments.messages_per_minute,
                )
            )
            results["naive"].append(await asyncio.to_thread(run_naive, prepared, sink, certificates))
            print(
                f"round {round_number}: "
                + "  ".join(
                    f"{name} {values[-1].per_second:8.1f} msg/s ({values[-1].cpu_ms:.2f} ms CPU/msg)"
                    for name, values in results.items()
                )
                + f"; {load_average()}"
            )
    rates = {name: median([rate.per_second for rate in values]) for name, values in results.items()}
    cpu = {name: median([rate.cpu_ms for rate in values]) for name, values in results.items()}
    alertmail, ceiling, naive = rates["alertmail"], rates["ceiling"], rates["naive"]
    print()
    print(
        f"drain of {arguments.messages} messages ({arguments.old_rows} sent ones already in the outbox), "
        f"{arguments.connections} connection(s), "
        "STARTTLS + AUTH PLAIN, "
        f"sink reply delay {arguments.reply_delay_ms:g} ms, "
        f"messages_per_minute {arguments.messages_per_minute}, median of {arguments.rounds} round(s); "
        f"{load_average()}"
    )
    labels = {
        "alertmail": "alertmail DeliveryWorker (SQLite outbox)",
        "ceiling": "ceiling (pooled aiosmtplib, no storage) ",
        "naive": "naive (smtplib, login per message)      ",
    }
    for name, label in labels.items():
        print(f"  {label} {rates[name]:8.1f} msg/s  {cpu[name]:.2f} ms CPU/msg")
    print(f"  (naive on the first {naive_count} messages)")
    print(f"  alertmail / ceiling = {alertmail / ceiling:.2f}   (goal >= 0.9, issue #18)")
    print(f"  alertmail / naive   = {alertmail / naive:.1f}    (goal >= 3)")
    print(f"  CPU per message, alertmail / ceiling = {cpu['alertmail'] / cpu['ceiling']:.2f}")


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--connections", type=int, default=3)
    parser.add_argument("--naive", type=int, default=300, help="messages the naive client sends")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--old-rows", type=int, default=0, help="sent messages already in the outbox")
    parser.add_argument("--reply-delay-ms", type=float, default=0.0, help="the sink holds each reply")
    parser.add_argument(
        "--messages-per-minute", type=int, default=0, help="alertmail's limit (0: none; tokens per message)"
    )
    return parser.parse_args()


if __name__ == "__main__":
    asyncio.run(main(parse()))
