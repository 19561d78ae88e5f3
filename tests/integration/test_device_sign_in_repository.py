"""The one device sign-in in the database, on SQLite and PostgreSQL: one at a time, taken over only
when finished, expired or abandoned by its poller; every change a compare-and-set on the attempt
and its status; the device code encrypted at rest."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import SecretStr
from sqlalchemy import text

from alertmail.adapters.secret_box import FernetSecretBox
from alertmail.adapters.storage.database import Database
from alertmail.adapters.storage.device_sign_in_repository import SqlDeviceSignInRepository
from alertmail.domain.device_flow import DeviceSignIn, held_until

NOW = datetime.now(UTC).replace(microsecond=0)
DEVICE_CODE = "GAQABAAEAAAAm-device-code-secret"


def sign_in(attempt: str, **changes: Any) -> DeviceSignIn:
    fields: dict[str, Any] = {
        "attempt": attempt,
        "administrator": "admin",
        "device_code": SecretStr(DEVICE_CODE),
        "user_code": "ABCD-EFGH",
        "verification_uri": "https://example.com/device",
        "verification_uri_complete": "https://example.com/device?user_code=ABCD-EFGH",
        "interval": 5.0,
        "created_at": NOW,
        "expires_at": NOW + timedelta(minutes=15),
        "held_until": held_until(NOW, 5.0),
    }
    return DeviceSignIn(**(fields | changes))


def repository(database: Database, box: FernetSecretBox) -> SqlDeviceSignInRepository:
    return SqlDeviceSignInRepository(database.sessionmaker, box, dialect=database.dialect)


async def test_one_at_a_time_until_it_ends(database: Database, secret_box: FernetSecretBox) -> None:
    sign_ins = repository(database, secret_box)
    assert await sign_ins.start(sign_in("a"), NOW) is None

    busy = await sign_ins.start(sign_in("b"), NOW + timedelta(seconds=10))
    assert busy is not None and busy.attempt == "a"
    assert await sign_ins.move("a", "pending", "cancelled", message="stopped")
    assert not await sign_ins.move("a", "pending", "claimed")  # a cancelled sign-in stays so
    assert await sign_ins.polled("a", NOW, 5.0) == "cancelled"

    assert await sign_ins.start(sign_in("b"), NOW + timedelta(seconds=10)) is None
    assert await sign_ins.polled("a", NOW, 5.0) is None  # replaced: its poller stops
    current = await sign_ins.get()
    assert current is not None and (current.attempt, current.status) == ("b", "pending")
    assert current.device_code.get_secret_value() == DEVICE_CODE


async def test_an_abandoned_or_expired_one_is_taken_over(
    database: Database, secret_box: FernetSecretBox
) -> None:
    sign_ins = repository(database, secret_box)
    await sign_ins.start(sign_in("a"), NOW)
    # Its poller renews the hold; while it does, nobody takes over.
    assert await sign_ins.polled("a", NOW + timedelta(seconds=25), 5.0) == "pending"
    assert await sign_ins.start(sign_in("b"), NOW + timedelta(seconds=50)) is not None
    # Then the poller dies: thirty seconds later the row is free.
    assert await sign_ins.start(sign_in("b"), NOW + timedelta(seconds=56)) is None
    # An expired one is free too, however recently polled.
    await sign_ins.polled("b", NOW + timedelta(minutes=15), 5.0)
    assert await sign_ins.start(sign_in("c"), NOW + timedelta(minutes=15)) is None


async def test_two_starts_at_once_leave_one_sign_in(database: Database, secret_box: FernetSecretBox) -> None:
    sign_ins = repository(database, secret_box)
    results = await asyncio.gather(*(sign_ins.start(sign_in(f"s{n}"), NOW) for n in range(4)))
    assert sum(result is None for result in results) == 1


async def test_the_device_code_is_encrypted_at_rest(database: Database, secret_box: FernetSecretBox) -> None:
    await repository(database, secret_box).start(sign_in("a"), NOW)
    async with database.sessionmaker() as session:
        stored = (await session.execute(text("SELECT device_code FROM oauth_device_sign_in"))).scalar_one()
    assert DEVICE_CODE not in stored and secret_box.decrypt(stored) == DEVICE_CODE
