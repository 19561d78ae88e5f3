"""The baseline `bench.ingest` compares alertmail with: the least a FastAPI + SQLAlchemy service
must do to accept an event durably, run as its own process.

    python -m bench.baseline_app DATABASE_URL PORT

`POST /api/v1/events` validates the JSON body with pydantic, hands the row to one writer task that
inserts whatever queued meanwhile in one transaction (SQLite `BEGIN IMMEDIATE`, WAL,
synchronous=FULL as SQLite's default; PostgreSQL one multi-row INSERT), and answers 202 once that
transaction committed. No authentication, no coalescing, no e-mail: alertmail does more, so the
goal is a ratio (>= 0.75 of this), not parity.
"""

from __future__ import annotations

import asyncio
import sys
import uuid
from datetime import UTC, datetime
from typing import Any

import uvicorn
from fastapi import FastAPI
from pydantic import BaseModel
from sqlalchemy import JSON, Column, DateTime, MetaData, String, Table, event, insert
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

metadata = MetaData()
events = Table(
    "baseline_events",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("type", String(64)),
    Column("dedupe_key", String(200)),
    Column("details", JSON),
    Column("received_at", DateTime(timezone=True)),
)


class EventCreate(BaseModel):
    type: str
    details: dict[str, Any] = {}
    dedupe_key: str | None = None


class Writer:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.pending: list[tuple[dict[str, Any], asyncio.Future[None]]] = []
        self.task: asyncio.Task[None] | None = None

    async def submit(self, row: dict[str, Any]) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.pending.append((row, future))
        if self.task is None or self.task.done():
            self.task = asyncio.create_task(self.drain())
        await future

    async def drain(self) -> None:
        while self.pending:
            batch, self.pending = self.pending[:500], self.pending[500:]
            async with self.engine.begin() as connection:
                await connection.execute(insert(events), [row for row, _ in batch])
            for _, future in batch:
                future.set_result(None)


def sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()
    dbapi_connection.isolation_level = None


def build(url: str) -> FastAPI:
    engine = create_async_engine(url)
    if engine.dialect.name == "sqlite":
        event.listen(engine.sync_engine, "connect", sqlite_pragmas)
        event.listen(engine.sync_engine, "begin", lambda conn: conn.exec_driver_sql("BEGIN IMMEDIATE"))
    writer = Writer(engine)
    app = FastAPI()

    @app.on_event("startup")
    async def create_table() -> None:
        async with engine.begin() as connection:
            await connection.run_sync(metadata.create_all)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/api/v1/events", status_code=202)
    async def raise_event(body: EventCreate) -> dict[str, str]:
        row = {
            "id": str(uuid.uuid4()),
            "type": body.type,
            "dedupe_key": body.dedupe_key or "",
            "details": body.details,
            "received_at": datetime.now(UTC),
        }
        await writer.submit(row)
        return {"id": row["id"]}

    return app


if __name__ == "__main__":
    uvicorn.run(build(sys.argv[1]), host="127.0.0.1", port=int(sys.argv[2]), log_level="warning")
