"""Storage: SQLAlchemy 2 (asyncio) on SQLite or PostgreSQL, Alembic migrations, repositories."""

from alertmail.adapters.storage.database import (
    Database,
    create_engine,
    current_revision,
    head_revision,
    upgrade_database,
)
from alertmail.adapters.storage.repositories import (
    SqlAdministratorRepository,
    SqlApiTokenRepository,
    SqlAuditRepository,
    SqlMailLogRepository,
    SqlSettingsRepository,
)

__all__ = [
    "Database",
    "SqlAdministratorRepository",
    "SqlApiTokenRepository",
    "SqlAuditRepository",
    "SqlMailLogRepository",
    "SqlSettingsRepository",
    "create_engine",
    "current_revision",
    "head_revision",
    "upgrade_database",
]
