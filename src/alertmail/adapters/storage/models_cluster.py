"""The cluster: its nodes, their failover checks and the transport every node sends through."""

# No `from __future__ import annotations`: SQLAlchemy reads every `Mapped[...]` at each start, and
# objects cost it less than strings to evaluate (6 ms over the three models modules).

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.sql.expression import false

from alertmail.adapters.storage.models_base import Base, UtcDateTime

__all__ = ["NodeCheckRow", "NodeRow", "TransportStateRow"]


class NodeRow(Base):
    """One alertmail node on the shared database: who it is, and when it last said it was alive."""

    __tablename__ = "nodes"

    node_id: Mapped[str] = mapped_column(Text, primary_key=True)
    hostname: Mapped[str] = mapped_column(Text)
    advertised_url: Mapped[str] = mapped_column(Text)
    version: Mapped[str] = mapped_column(Text)
    role: Mapped[str] = mapped_column(String(32))  # primary-capable | traffic
    started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_heartbeat: Mapped[datetime] = mapped_column(UtcDateTime)
    # What the node last reported; the advisory lock, not this column, decides who is primary.
    is_primary: Mapped[bool] = mapped_column(Boolean)
    promote_requested: Mapped[bool] = mapped_column(Boolean, server_default=false())
    backup_disabled_since: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    # The process holding this name (NULL once it stopped cleanly): a second live one is refused.
    instance_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # PostgreSQL: the backend pid of the connection holding the primary's lock, the one fence target.
    lock_session: Mapped[int | None] = mapped_column(Integer, nullable=True)


class NodeCheckRow(Base):
    """A node's latest result of one failover check, and the incident it is in (or was last in)."""

    __tablename__ = "node_checks"

    node_id: Mapped[str] = mapped_column(Text, primary_key=True)
    check_name: Mapped[str] = mapped_column(String(64), primary_key=True)
    failing: Mapped[bool] = mapped_column(Boolean)
    since: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    checked_at: Mapped[datetime] = mapped_column(UtcDateTime)
    failures: Mapped[int] = mapped_column(Integer)
    mailed: Mapped[bool] = mapped_column(Boolean)
    details: Mapped[dict[str, Any]] = mapped_column(JSON)


class TransportStateRow(Base):
    """Which transport every node sends through (id 1; see domain/fallback.py). Switched by
    compare-and-set on `generation`, in the transaction that also records the switch's notice."""

    __tablename__ = "transport_state"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    active: Mapped[str] = mapped_column(String(16))  # primary | fallback
    active_since: Mapped[datetime | None] = mapped_column(UtcDateTime)
    primary_failing_since: Mapped[datetime | None] = mapped_column(UtcDateTime)
    primary_last_failed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    failure_category: Mapped[str] = mapped_column(String(32))
    failure_message: Mapped[str] = mapped_column(Text)
    failure_hint: Mapped[str] = mapped_column(Text)
    next_probe_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    generation: Mapped[int] = mapped_column(Integer)
