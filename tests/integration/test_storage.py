"""Storage on SQLite and PostgreSQL: migrations, settings with secrets, logs, accounts."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from pydantic import SecretStr
from sqlalchemy import Connection, inspect, text

from alertmail.adapters.secret_box import FernetSecretBox
from alertmail.adapters.storage.database import (
    Database,
    current_revision,
    head_revision,
    upgrade_database,
)
from alertmail.adapters.storage.models import AuditLogRow, Base, MailSettingsRow
from alertmail.adapters.storage.repositories import (
    SqlAdministratorRepository,
    SqlApiTokenRepository,
    SqlAuditRepository,
    SqlMailLogRepository,
    SqlSettingsRepository,
)
from alertmail.domain.records import AuditEntry, MailLogEntry
from alertmail.domain.settings import FIELD_NAMES, SECRET_FIELDS, MailSettings, validate_settings
from alertmail.errors import ConflictError, NotFoundError
from tests.support.records import mail_log_entry

PASSWORD = "correct horse battery staple"
CLIENT_SECRET = "cl13nt~s3cr3t.value"


def basic_settings(**changes: Any) -> MailSettings:
    data: dict[str, Any] = {
        "from_address": "alerts@example.com",
        "hostname": "smtp.example.com",
        "port": 587,
        "encryption": "starttls",
        "auth_type": "basic",
        "username": "alerts@example.com",
        "password": PASSWORD,
        "client_secret": CLIENT_SECRET,
        "admin_contacts": ["ops@example.com", "oncall@example.com"],
        "daily_notice": True,
        "daily_notice_time": "07:30",
    }
    return validate_settings(data | changes)


def audit_entry(action: str = "settings.update", **details: Any) -> AuditEntry:
    return AuditEntry(actor="admin", action=action, at=datetime.now(UTC), details=details)


def log_entry(at: datetime, category: str = "smtp_auth", **changes: Any) -> MailLogEntry:
    return mail_log_entry(registered_at=at, category=category, node="node-a", **changes)


@pytest.fixture
def settings_repository(database: Database, secret_box: FernetSecretBox) -> SqlSettingsRepository:
    return SqlSettingsRepository(database.sessionmaker, secret_box)


# --- migrations -----------------------------------------------------------------------------------


async def test_migrations_reach_head_and_match_the_models(database: Database) -> None:
    assert await current_revision(database.engine) == head_revision()

    def differences(connection: Connection) -> list[Any]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, Base.metadata))

    async with database.engine.connect() as connection:
        assert await connection.run_sync(differences) == []


async def test_upgrading_twice_changes_nothing(database_url: str) -> None:
    await upgrade_database(database_url)
    await upgrade_database(database_url)
    async with Database.from_url(database_url) as database:
        assert await current_revision(database.engine) == head_revision()

        def tables(connection: Connection) -> set[str]:
            return set(inspect(connection).get_table_names())

        async with database.engine.connect() as connection:
            found = await connection.run_sync(tables)
    assert found == set(Base.metadata.tables) | {"alembic_version"}


def test_every_mail_setting_has_a_column() -> None:
    assert set(FIELD_NAMES) <= set(MailSettingsRow.__table__.columns.keys())


async def test_sqlite_connections_use_wal_foreign_keys_and_a_busy_timeout(sqlite_url: str) -> None:
    async with Database.from_url(sqlite_url) as database, database.engine.connect() as connection:
        assert (await connection.exec_driver_sql("PRAGMA journal_mode")).scalar() == "wal"
        assert (await connection.exec_driver_sql("PRAGMA foreign_keys")).scalar() == 1
        assert (await connection.exec_driver_sql("PRAGMA busy_timeout")).scalar() == 10_000


# --- mail settings ----------------------------------------------------------------------------------


async def test_settings_are_unconfigured_before_the_first_save(
    settings_repository: SqlSettingsRepository,
) -> None:
    stored = await settings_repository.load()
    assert stored.version == 0
    assert stored.settings == MailSettings.unconfigured()
    assert stored.updated_at is None


async def test_settings_round_trip_with_secrets(settings_repository: SqlSettingsRepository) -> None:
    settings = basic_settings()
    saved = await settings_repository.save(settings, expected_version=0, actor="admin", audit=audit_entry())
    loaded = await settings_repository.load()

    assert loaded.version == saved.version == 1
    assert loaded.updated_by == "admin"
    assert loaded.updated_at is not None and loaded.updated_at.tzinfo is not None
    for name in FIELD_NAMES:
        if name not in SECRET_FIELDS:
            assert getattr(loaded.settings, name) == getattr(settings, name), name
    assert isinstance(loaded.settings.password, SecretStr)
    assert loaded.settings.password.get_secret_value() == PASSWORD
    assert loaded.settings.client_secret is not None
    assert loaded.settings.client_secret.get_secret_value() == CLIENT_SECRET


async def test_secrets_are_stored_as_ciphertext_only(
    database: Database, settings_repository: SqlSettingsRepository
) -> None:
    await settings_repository.save(basic_settings(), expected_version=0, actor="admin", audit=audit_entry())
    async with database.engine.connect() as connection:
        row = (await connection.execute(text("SELECT * FROM mail_settings"))).mappings().one()
    for column, value in row.items():
        assert PASSWORD not in str(value), column
        assert CLIENT_SECRET not in str(value), column
    assert row["password"] and row["client_secret"]


async def test_missing_secrets_stay_missing(settings_repository: SqlSettingsRepository) -> None:
    settings = basic_settings(auth_type="none", password=None, client_secret=None)
    await settings_repository.save(settings, expected_version=0, actor="admin", audit=audit_entry())
    loaded = (await settings_repository.load()).settings
    assert loaded.password is None and loaded.client_secret is None


async def test_each_save_increments_the_version(
    settings_repository: SqlSettingsRepository,
) -> None:
    first = await settings_repository.save(
        basic_settings(), expected_version=0, actor="admin", audit=audit_entry()
    )
    second = await settings_repository.save(
        basic_settings(port=2525), expected_version=1, actor="other", audit=audit_entry()
    )
    loaded = await settings_repository.load()
    assert (first.version, second.version, loaded.version) == (1, 2, 2)
    assert loaded.settings.port == 2525
    assert loaded.updated_by == "other"


@pytest.mark.parametrize("stale_version", [0, 1, 5])
async def test_a_stale_version_conflicts_and_changes_nothing(
    database: Database, settings_repository: SqlSettingsRepository, stale_version: int
) -> None:
    await settings_repository.save(basic_settings(), expected_version=0, actor="admin", audit=audit_entry())
    await settings_repository.save(
        basic_settings(port=2525), expected_version=1, actor="admin", audit=audit_entry()
    )
    with pytest.raises(ConflictError):
        await settings_repository.save(
            basic_settings(port=25),
            expected_version=stale_version,
            actor="late",
            audit=audit_entry("settings.late"),
        )
    loaded = await settings_repository.load()
    assert (loaded.version, loaded.settings.port, loaded.updated_by) == (2, 2525, "admin")
    audits = await SqlAuditRepository(database.sessionmaker).list()
    assert [entry.action for entry in audits].count("settings.late") == 0


@pytest.mark.parametrize("expected_version", [0, 1])
async def test_of_two_concurrent_saves_exactly_one_wins(
    settings_repository: SqlSettingsRepository, expected_version: int
) -> None:
    if expected_version:
        await settings_repository.save(
            basic_settings(), expected_version=0, actor="admin", audit=audit_entry()
        )
    outcomes = await asyncio.gather(
        *(
            settings_repository.save(
                basic_settings(port=port),
                expected_version=expected_version,
                actor=f"admin-{port}",
                audit=audit_entry(),
            )
            for port in (2525, 2526)
        ),
        return_exceptions=True,
    )
    winners = [o for o in outcomes if not isinstance(o, BaseException)]
    assert len(winners) == 1
    assert [type(o) for o in outcomes if isinstance(o, BaseException)] == [ConflictError]
    loaded = await settings_repository.load()
    assert loaded.version == expected_version + 1
    assert loaded.updated_by == winners[0].updated_by


async def test_a_failed_transaction_leaves_nothing_behind(database: Database) -> None:
    with pytest.raises(RuntimeError):
        async with database.sessionmaker.begin() as session:
            session.add(AuditLogRow(actor="admin", action="x", at=datetime.now(UTC), details={}))
            await session.flush()
            raise RuntimeError("fail after the write")
    assert await SqlAuditRepository(database.sessionmaker).list() == []


async def test_saving_over_a_missing_row_conflicts(
    settings_repository: SqlSettingsRepository,
) -> None:
    with pytest.raises(ConflictError):
        await settings_repository.save(
            basic_settings(), expected_version=3, actor="admin", audit=audit_entry()
        )
    assert (await settings_repository.load()).version == 0


async def test_the_audit_entry_is_written_with_the_settings(
    database: Database, settings_repository: SqlSettingsRepository
) -> None:
    await settings_repository.save(
        basic_settings(),
        expected_version=0,
        actor="admin",
        audit=audit_entry("settings.create", changed=["hostname", "password"]),
    )
    [entry] = await SqlAuditRepository(database.sessionmaker).list()
    assert (entry.actor, entry.action) == ("admin", "settings.create")
    assert entry.details == {"changed": ["hostname", "password"]}
    assert entry.at.tzinfo is not None and entry.id is not None


async def test_audit_entries_list_newest_first(database: Database) -> None:
    audit = SqlAuditRepository(database.sessionmaker)
    start = datetime(2024, 5, 1, 12, tzinfo=UTC)
    for minutes, action in [(0, "first"), (2, "third"), (1, "second")]:
        await audit.add(AuditEntry("admin", action, start + timedelta(minutes=minutes)))
    assert [entry.action for entry in await audit.list()] == ["third", "second", "first"]
    assert [entry.action for entry in await audit.list(limit=1)] == ["third"]


# --- mail server log ------------------------------------------------------------------------------


async def test_mail_log_lists_newest_first_with_filters(database: Database) -> None:
    log = SqlMailLogRepository(database.sessionmaker)
    start = datetime(2024, 5, 1, 12, tzinfo=UTC)
    added = [
        await log.add(log_entry(start, "dns")),
        await log.add(log_entry(start + timedelta(hours=2), "smtp_auth")),
        await log.add(log_entry(start + timedelta(hours=1), "smtp_auth")),
    ]
    assert all(entry.id is not None for entry in added)

    newest_first = await log.list()
    assert [e.registered_at for e in newest_first] == [start + timedelta(hours=h) for h in (2, 1, 0)]
    assert newest_first[0] == added[1]
    assert [e.category for e in await log.list(category="dns")] == ["dns"]
    assert len(await log.list(since=start + timedelta(hours=1))) == 2
    assert len(await log.list(limit=1)) == 1
    assert await log.list(category="smtp_auth", since=start + timedelta(hours=2)) == [added[1]]


async def test_mail_log_times_come_back_in_utc(database: Database) -> None:
    log = SqlMailLogRepository(database.sessionmaker)
    at = datetime(2024, 5, 1, 14, tzinfo=timezone(timedelta(hours=2)))
    await log.add(log_entry(at, provider_code="AADSTS50011", smtp_code=None))
    [entry] = await log.list(since=datetime(2024, 5, 1, 11, 59, tzinfo=UTC))
    assert entry.registered_at == at and entry.registered_at.tzinfo == UTC
    assert (entry.provider_code, entry.smtp_code) == ("AADSTS50011", None)
    assert entry.settings_snapshot == {"hostname": "smtp.example.com", "port": 587}


# --- administrators and API tokens ----------------------------------------------------------------


async def test_administrators(database: Database) -> None:
    admins = SqlAdministratorRepository(database.sessionmaker)
    created = await admins.add("root", None, "$argon2id$hash")
    await admins.add("alice", "alice@example.com", "$argon2id$other")

    assert created.id is not None and created.created_at.tzinfo is not None
    assert await admins.get("root") == created
    assert await admins.get("nobody") is None
    assert await admins.password_hash("alice") == "$argon2id$other"
    assert await admins.password_hash("nobody") is None
    assert [a.username for a in await admins.list()] == ["alice", "root"]

    await admins.set_email("root", "root@example.com")
    root = await admins.get("root")
    assert root is not None and root.email == "root@example.com"
    with pytest.raises(NotFoundError):
        await admins.set_email("nobody", "x@example.com")


async def test_administrator_usernames_are_unique(database: Database) -> None:
    admins = SqlAdministratorRepository(database.sessionmaker)
    await admins.add("root", None, "hash")
    with pytest.raises(ConflictError):
        await admins.add("root", "other@example.com", "hash2")
    assert len(await admins.list()) == 1


async def test_api_tokens(database: Database) -> None:
    await SqlAdministratorRepository(database.sessionmaker).add("root", None, "hash")
    times = iter(datetime(2024, 5, 1, 12, minute, tzinfo=UTC) for minute in range(10))
    tokens = SqlApiTokenRepository(database.sessionmaker, clock=lambda: next(times))

    created = await tokens.add("ci", "root", "sha256:abc")
    assert (created.name, created.administrator, created.last_used_at) == ("ci", "root", None)

    found = await tokens.find("sha256:abc")
    assert found is not None
    assert (found.id, found.administrator) == (created.id, "root")
    assert found.last_used_at == datetime(2024, 5, 1, 12, 1, tzinfo=UTC)
    again = await tokens.find("sha256:abc")
    assert again is not None and again.last_used_at == datetime(2024, 5, 1, 12, 2, tzinfo=UTC)
    assert await tokens.find("sha256:unknown") is None


async def test_api_tokens_need_a_known_administrator_and_a_unique_hash(
    database: Database,
) -> None:
    await SqlAdministratorRepository(database.sessionmaker).add("root", None, "hash")
    tokens = SqlApiTokenRepository(database.sessionmaker)
    with pytest.raises(NotFoundError):
        await tokens.add("ci", "nobody", "sha256:abc")
    await tokens.add("ci", "root", "sha256:abc")
    with pytest.raises(ConflictError):
        await tokens.add("ci-2", "root", "sha256:abc")
