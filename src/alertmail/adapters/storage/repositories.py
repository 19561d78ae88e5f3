"""Repositories: the storage ports over SQLAlchemy sessions, returning the domain's records.

On SQLite, every write transaction starts with its write (`UPDATE`/`INSERT` first, then reads):
a transaction that reads first and writes later can fail with "database is locked" at once when
another connection wrote in between, whatever the busy timeout.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import fields, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import SecretStr
from sqlalchemy import Text, delete, func, insert, literal, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from alertmail.adapters.storage.generation_repository import bump_in
from alertmail.adapters.storage.models import (
    AdministratorRow,
    ApiTokenRow,
    AuditLogRow,
    MailServerLogRow,
    MailSettingsRow,
    UtcDateTime,
)
from alertmail.domain.ports import SecretBox
from alertmail.domain.records import (
    Administrator,
    ApiToken,
    AuditEntry,
    MailLogEntry,
    StoredSettings,
)
from alertmail.domain.settings import FIELD_NAMES, SECRET_FIELDS, MailSettings
from alertmail.errors import ConflictError, NotFoundError

__all__ = [
    "Clock",
    "SqlAdministratorRepository",
    "SqlApiTokenRepository",
    "SqlAuditRepository",
    "SqlMailLogRepository",
    "SqlSettingsRepository",
]

_TOKEN_TOUCH_INTERVAL = timedelta(minutes=1)  # how stale `last_used_at` may be

Clock = Callable[[], datetime]
Sessions = async_sessionmaker[AsyncSession]
SETTINGS_ROW_ID = 1


def utc_now() -> datetime:
    return datetime.now(UTC)


# --- mail settings ------------------------------------------------------------------------------


class SqlSettingsRepository:
    """The one versioned row of mail settings; secrets go through the secret box both ways.

    The decrypted settings are kept in memory and reused while the row's version is unchanged:
    `load` reads only the version then (every save, from any node, bumps it), which spares the hot
    paths (each batch of events, each delivery round) the row and its decryption.
    """

    def __init__(self, sessions: Sessions, secret_box: SecretBox, *, clock: Clock = utc_now) -> None:
        self._sessions = sessions
        self._box = secret_box
        self._clock = clock
        self._cached: StoredSettings | None = None

    async def load(self) -> StoredSettings:
        async with self._sessions() as session:
            if self._cached is not None:
                version = await session.scalar(
                    select(MailSettingsRow.version).where(MailSettingsRow.id == SETTINGS_ROW_ID)
                )
                if version == self._cached.version:
                    return self._cached
            row = await session.get(MailSettingsRow, SETTINGS_ROW_ID)
        if row is None:
            return StoredSettings(MailSettings.unconfigured(), version=0)
        self._cached = StoredSettings(
            _settings_from_row(row, self._box),
            version=row.version,
            updated_at=row.updated_at,
            updated_by=row.updated_by,
        )
        return self._cached

    async def save(
        self, settings: MailSettings, *, expected_version: int, actor: str, audit: AuditEntry
    ) -> StoredSettings:
        """Store the next version and its audit entry in one transaction, or raise `ConflictError`."""
        now = self._clock()
        values = _row_values(settings, self._box) | {
            "version": expected_version + 1,
            "updated_at": now,
            "updated_by": actor,
        }
        async with self._sessions.begin() as session:
            if expected_version == 0:
                await _insert_first_settings(session, values)
            else:
                await _update_settings(session, values, expected_version)
            session.add(_audit_row(audit))
        self._cached = None  # the next load reads the row as stored
        return StoredSettings(settings, version=expected_version + 1, updated_at=now, updated_by=actor)


async def _insert_first_settings(session: AsyncSession, values: dict[str, Any]) -> None:
    try:
        # A savepoint keeps the transaction usable on PostgreSQL after the duplicate key error.
        async with session.begin_nested():
            await session.execute(insert(MailSettingsRow).values(id=SETTINGS_ROW_ID, **values))
    except IntegrityError as exc:
        raise _conflict(0) from exc


async def _update_settings(session: AsyncSession, values: dict[str, Any], expected: int) -> None:
    # Optimistic concurrency: the row changes only if nobody saved since `expected` was read.
    statement = (
        update(MailSettingsRow)
        .where(MailSettingsRow.id == SETTINGS_ROW_ID, MailSettingsRow.version == expected)
        .values(**values)
        .returning(MailSettingsRow.version)
        .execution_options(synchronize_session=False)
    )
    if (await session.execute(statement)).scalar_one_or_none() is None:
        raise _conflict(expected)


def _conflict(expected: int) -> ConflictError:
    return ConflictError(
        f"the mail settings were changed by someone else since version {expected} was read:"
        " reload them and apply your change again"
    )


def _row_values(settings: MailSettings, box: SecretBox) -> dict[str, Any]:
    values: dict[str, Any] = {name: getattr(settings, name) for name in FIELD_NAMES}
    for name in SECRET_FIELDS:
        secret: SecretStr | None = values[name]
        values[name] = None if secret is None else box.encrypt(secret.get_secret_value())
    values["admin_contacts"] = list(settings.admin_contacts)
    return values


def _settings_from_row(row: MailSettingsRow, box: SecretBox) -> MailSettings:
    values: dict[str, Any] = {name: getattr(row, name) for name in FIELD_NAMES}
    for name in SECRET_FIELDS:
        token: str | None = values[name]
        values[name] = None if token is None else SecretStr(box.decrypt(token))
    # Validated before they were saved; validating again would refuse rows saved under older rules.
    return MailSettings.model_construct(**values)


# --- audit log ----------------------------------------------------------------------------------


class SqlAuditRepository:
    def __init__(self, sessions: Sessions) -> None:
        self._sessions = sessions

    async def add(self, entry: AuditEntry) -> AuditEntry:
        row = _audit_row(entry)
        async with self._sessions.begin() as session:
            session.add(row)
        return replace(entry, id=row.id)

    async def list(self, *, limit: int = 100) -> Sequence[AuditEntry]:
        statement = select(AuditLogRow).order_by(AuditLogRow.at.desc(), AuditLogRow.id.desc()).limit(limit)
        async with self._sessions() as session:
            rows = (await session.scalars(statement)).all()
        return [AuditEntry(actor=r.actor, action=r.action, at=r.at, details=r.details, id=r.id) for r in rows]


def _audit_row(entry: AuditEntry) -> AuditLogRow:
    return AuditLogRow(actor=entry.actor, action=entry.action, at=entry.at, details=entry.details)


# --- mail server log ----------------------------------------------------------------------------

_LOG_COLUMNS = tuple(f.name for f in fields(MailLogEntry) if f.name != "id")


class SqlMailLogRepository:
    def __init__(self, sessions: Sessions) -> None:
        self._sessions = sessions

    async def add(self, entry: MailLogEntry) -> MailLogEntry:
        row = MailServerLogRow(**{name: getattr(entry, name) for name in _LOG_COLUMNS})
        async with self._sessions.begin() as session:
            session.add(row)
        return replace(entry, id=row.id)

    async def list(
        self,
        *,
        limit: int = 100,
        category: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        offset: int = 0,
    ) -> Sequence[MailLogEntry]:
        """Newest first; `since` inclusive, `until` exclusive."""
        statement = select(MailServerLogRow).order_by(
            MailServerLogRow.registered_at.desc(), MailServerLogRow.id.desc()
        )
        if category is not None:
            statement = statement.where(MailServerLogRow.category == category)
        if since is not None:
            statement = statement.where(MailServerLogRow.registered_at >= since)
        if until is not None:
            statement = statement.where(MailServerLogRow.registered_at < until)
        async with self._sessions() as session:
            rows = (await session.scalars(statement.offset(offset).limit(limit))).all()
        return [
            MailLogEntry(id=row.id, **{name: getattr(row, name) for name in _LOG_COLUMNS}) for row in rows
        ]


# --- administrators and API tokens --------------------------------------------------------------


class SqlAdministratorRepository:
    def __init__(self, sessions: Sessions, *, clock: Clock = utc_now) -> None:
        self._sessions = sessions
        self._clock = clock

    async def add(self, username: str, email: str | None, password_hash: str) -> Administrator:
        row = AdministratorRow(
            username=username, email=email, password_hash=password_hash, created_at=self._clock()
        )
        try:
            async with self._sessions.begin() as session:
                session.add(row)
        except IntegrityError as exc:
            raise ConflictError(f"an administrator named {username!r} already exists") from exc
        return _administrator(row)

    async def get(self, username: str) -> Administrator | None:
        row = await self._find(username)
        return None if row is None else _administrator(row)

    async def password_hash(self, username: str) -> str | None:
        row = await self._find(username)
        return None if row is None else row.password_hash

    async def list(self) -> Sequence[Administrator]:
        async with self._sessions() as session:
            rows = await session.scalars(select(AdministratorRow).order_by(AdministratorRow.username))
            return [_administrator(row) for row in rows]

    async def set_email(self, username: str, email: str | None) -> None:
        statement = (
            update(AdministratorRow)
            .where(AdministratorRow.username == username)
            .values(email=email)
            .returning(AdministratorRow.id)
            .execution_options(synchronize_session=False)
        )
        async with self._sessions.begin() as session:
            if (await session.execute(statement)).scalar_one_or_none() is None:
                raise NotFoundError(f"there is no administrator named {username!r}")
            await bump_in(session)  # processes caching this administrator reload it

    async def set_password_hash(self, username: str, password_hash: str) -> None:
        statement = (
            update(AdministratorRow)
            .where(AdministratorRow.username == username)
            .values(password_hash=password_hash)
            .returning(AdministratorRow.id)
            .execution_options(synchronize_session=False)
        )
        async with self._sessions.begin() as session:
            if (await session.execute(statement)).scalar_one_or_none() is None:
                raise NotFoundError(f"there is no administrator named {username!r}")

    async def remove(self, username: str) -> None:
        """Remove one administrator, never the last: the count is checked in the DELETE itself."""
        others = (
            select(func.count())
            .select_from(AdministratorRow)
            .where(AdministratorRow.username != username)
            .scalar_subquery()
        )
        statement = (
            delete(AdministratorRow)
            .where(AdministratorRow.username == username, others > 0)
            .returning(AdministratorRow.id)
            .execution_options(synchronize_session=False)
        )
        async with self._sessions.begin() as session:
            if session.get_bind().dialect.name == "postgresql":
                # Two removals at once would each still see the other's row; on SQLite the DELETE
                # already runs alone (one writer at a time), and a read first would risk "locked".
                await session.execute(select(AdministratorRow.id).with_for_update())
            if (await session.execute(statement)).scalar_one_or_none() is not None:
                await bump_in(session)  # its API tokens went with it: no process may accept them
                return
        if await self._find(username) is None:
            raise NotFoundError(f"there is no administrator named {username!r}")
        raise ConflictError("the last administrator cannot be removed: add another one first")

    async def _find(self, username: str) -> AdministratorRow | None:
        statement = select(AdministratorRow).where(AdministratorRow.username == username)
        async with self._sessions() as session:
            return (await session.scalars(statement)).one_or_none()


def _administrator(row: AdministratorRow) -> Administrator:
    return Administrator(username=row.username, email=row.email, created_at=row.created_at, id=row.id)


class SqlApiTokenRepository:
    """API tokens by hash; `find` records when a token was last used."""

    def __init__(self, sessions: Sessions, *, clock: Clock = utc_now) -> None:
        self._sessions = sessions
        self._clock = clock

    async def add(self, name: str, administrator: str, token_hash: str) -> ApiToken:
        now = self._clock()
        # INSERT ... SELECT: the write comes first and an unknown administrator inserts nothing.
        owner = select(
            literal(name, Text()),
            AdministratorRow.id,
            literal(token_hash, Text()),
            literal(now, UtcDateTime()),
        ).where(AdministratorRow.username == administrator)
        statement = (
            insert(ApiTokenRow)
            .from_select(["name", "administrator_id", "token_hash", "created_at"], owner)
            .returning(ApiTokenRow.id)
        )
        try:
            async with self._sessions.begin() as session:
                token_id = (await session.execute(statement)).scalar_one_or_none()
        except IntegrityError as exc:
            raise ConflictError("an API token with this hash already exists") from exc
        if token_id is None:
            raise NotFoundError(f"there is no administrator named {administrator!r}")
        return ApiToken(name=name, administrator=administrator, created_at=now, id=token_id)

    async def find(self, token_hash: str) -> ApiToken | None:
        """The token and its administrator; `last_used_at` is written at most once a minute.

        A read per API call and not a write: on SQLite every write queues for the one writer
        lock, which event ingestion needs (see bench/ingest.py).
        """
        query = (
            select(ApiTokenRow, AdministratorRow.username)
            .join(AdministratorRow, AdministratorRow.id == ApiTokenRow.administrator_id)
            .where(ApiTokenRow.token_hash == token_hash)
        )
        async with self._sessions() as session:
            found = (await session.execute(query)).one_or_none()
        if found is None:
            return None
        row, username = found
        now = self._clock()
        if row.last_used_at is None or now - row.last_used_at >= _TOKEN_TOUCH_INTERVAL:
            async with self._sessions.begin() as session:
                await session.execute(
                    update(ApiTokenRow).where(ApiTokenRow.id == row.id).values(last_used_at=now)
                )
            row.last_used_at = now
        return ApiToken(
            name=row.name,
            administrator=username,
            created_at=row.created_at,
            last_used_at=row.last_used_at,
            id=row.id,
        )
