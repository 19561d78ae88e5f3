"""Keyset pagination newest first: the rows strictly after a page's last one, by (time, id) descending."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, and_, or_
from sqlalchemy.orm import InstrumentedAttribute

from alertmail.domain.delivery_report import PageCursor

__all__ = ["older_than"]


def older_than(
    at: InstrumentedAttribute[datetime], id: InstrumentedAttribute[str], cursor: PageCursor
) -> ColumnElement[bool]:
    """`(at, id) < (cursor.at, cursor.id)`, spelled out so both databases use the index on `at`."""
    return or_(at < cursor.at, and_(at == cursor.at, id < cursor.id))
