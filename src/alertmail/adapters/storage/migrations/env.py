"""Alembic environment, driven from code by `alertmail.adapters.storage.database`.

`upgrade_database()` hands over an open connection in `config.attributes["connection"]`; with only
a URL (`alembic_config(url)`, e.g. to autogenerate a new revision), an engine is built here. No
logging configuration is applied: the application owns logging.
"""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import Connection, pool
from sqlalchemy.ext.asyncio import create_async_engine

from alertmail.adapters.storage.models import Base

target_metadata = Base.metadata


def run_migrations(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things in place; batch mode copies the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def run_migrations_from_url(url: str) -> None:
    engine = create_async_engine(url, poolclass=pool.NullPool)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(run_migrations)
    finally:
        await engine.dispose()


def run_migrations_offline(url: str) -> None:
    """Emit the SQL instead of running it, for a DBA to review and apply."""
    context.configure(url=url, target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def main() -> None:
    connection = context.config.attributes.get("connection")
    url = context.config.get_main_option("sqlalchemy.url") or ""
    if context.is_offline_mode():
        run_migrations_offline(url)
    elif isinstance(connection, Connection):
        run_migrations(connection)
    else:
        asyncio.run(run_migrations_from_url(url))


main()
