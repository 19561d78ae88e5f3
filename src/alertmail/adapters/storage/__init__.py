"""Storage: SQLAlchemy 2 (asyncio) on SQLite or PostgreSQL, Alembic migrations, repositories.

Import from the modules themselves: this package imports nothing, so that sendmail's direct path
(direct_outbox.py) loads no SQLAlchemy.
"""
