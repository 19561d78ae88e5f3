"""Searching for secrets in every form a careless program could write them, wherever they could end up.

`needles_for(secrets)` gives each secret in clear, base64 (standard and url-safe, padded or not, at
any alignment inside a longer blob, as an XOAUTH2 string embeds a token), AUTH PLAIN, AUTH LOGIN
and hex; `find_leaks(haystacks, needles)` names every needle found. The haystack builders collect
database rows, files, log records and HTTP responses; `data_dir_haystacks` those of a data
directory, and `assert_nothing_leaked` fails naming each secret found and where.
"""

from __future__ import annotations

import base64
import logging
import sqlite3
from collections.abc import Mapping
from contextlib import closing
from pathlib import Path

import httpx
import pytest
from cryptography.fernet import Fernet

USERNAME = "leak-relay-user"
SQLITE_MAGIC = b"SQLite format 3\x00"

Haystacks = dict[str, bytes | str]


# --- the search -----------------------------------------------------------------------------------


def encodings_of(secret: str, username: str) -> dict[str, bytes]:
    """Every form in which `secret` could be written out, by the name of the form."""
    raw = secret.encode()
    forms = {
        "clear": raw,
        "base64": base64.b64encode(raw),
        "base64 unpadded": base64.b64encode(raw).rstrip(b"="),
        "base64url": base64.urlsafe_b64encode(raw),
        "base64url unpadded": base64.urlsafe_b64encode(raw).rstrip(b"="),
        "AUTH PLAIN": base64.b64encode(b"\0" + username.encode() + b"\0" + raw),
        "AUTH LOGIN": base64.b64encode(raw),
        "hex": raw.hex().encode(),
        "HEX": raw.hex().upper().encode(),
    }
    for offset, core in enumerate(_base64_cores(raw)):
        forms[f"base64 at offset {offset}"] = core
        forms[f"base64url at offset {offset}"] = core.replace(b"+", b"-").replace(b"/", b"_")
    return forms


def _base64_cores(raw: bytes) -> list[bytes]:
    """The base64 characters that encode `raw` whatever surrounds it, one per alignment (0-2).

    Inside a longer base64 blob `raw` starts at any offset: the groups holding a neighbour's
    bytes differ, the whole groups in between do not.
    """
    cores = []
    for offset in range(3):
        encoded = base64.b64encode(bytes(offset) + raw)
        whole_groups_end = (offset + len(raw)) // 3 * 4
        cores.append(encoded[4 if offset else 0 : whole_groups_end])
    return cores


def needles_for(secrets: Mapping[str, str], username: str = USERNAME) -> dict[str, bytes]:
    return {
        f"{label} ({form})": needle
        for label, secret in secrets.items()
        for form, needle in encodings_of(secret, username).items()
    }


def find_leaks(haystacks: Mapping[str, bytes | str], needles: Mapping[str, bytes]) -> list[str]:
    """`"<needle> in <haystack>"` for every needle found in a haystack; empty when nothing leaked."""
    found = []
    for where, haystack in haystacks.items():
        data = haystack.encode("utf-8", "surrogateescape") if isinstance(haystack, str) else haystack
        found += [f"{what} in {where}" for what, needle in needles.items() if needle in data]
    return found


def leaky_samples(secret: str, username: str) -> Haystacks:
    """The secret as a careless program would write it, built without `encodings_of`."""
    raw = secret.encode()
    return {
        "clear text": f"settings={{'password': {secret!r}}}",
        "base64": b"secret: " + base64.b64encode(raw) + b"\n",
        "base64 unpadded": base64.b64encode(raw).rstrip(b"="),
        "base64url unpadded": base64.urlsafe_b64encode(raw).rstrip(b"="),
        "AUTH PLAIN": b"AUTH PLAIN " + base64.b64encode(b"\0" + username.encode() + b"\0" + raw) + b"\r\n",
        "AUTH LOGIN": b"334 UGFzc3dvcmQ6\r\n" + base64.b64encode(raw) + b"\r\n",
        "base64 at offset 1": base64.b64encode(b"{" + raw + b"}"),
        "base64 at offset 2": base64.urlsafe_b64encode(b"p=" + raw + b";"),
        "hex": f"bytes.fromhex('{raw.hex()}')",
        "HEX": raw.hex().upper(),
    }


def assert_nothing_leaked(
    haystacks: Mapping[str, bytes | str], secrets: Mapping[str, str], *, username: str = USERNAME
) -> None:
    leaks = find_leaks(haystacks, needles_for(secrets, username=username))
    assert not leaks, "secrets leaked:\n" + "\n".join(leaks)


def assert_search_finds(secrets: Mapping[str, str]) -> None:
    """The self-test: the search sees every form of each secret, and not its ciphertext."""
    needles = needles_for(secrets)
    for label, secret in secrets.items():
        for form, sample in leaky_samples(secret, USERNAME).items():
            assert find_leaks({form: sample}, needles), f"the search misses {label} as {form}"
        ciphertext = Fernet(Fernet.generate_key()).encrypt(secret.encode())
        assert find_leaks({"ciphertext": ciphertext}, needles) == []


# --- where secrets could end up -------------------------------------------------------------------


def database_haystacks(data_dir: Path) -> Haystacks:
    """Every row of every table of every SQLite database under `data_dir`, one haystack per table."""
    found: Haystacks = {}
    for path in sorted(data_dir.rglob("*")):
        if path.is_file() and path.read_bytes().startswith(SQLITE_MAGIC):
            found |= _table_dumps(path)
    return found


def _table_dumps(path: Path) -> Haystacks:
    with closing(sqlite3.connect(path)) as connection:
        tables = [name for (name,) in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return {
            # The name comes from sqlite_master, not from input.
            f"{path.name} table {table}": _dump(connection.execute(f'SELECT * FROM "{table}"'))  # noqa: S608
            for table in tables
        }


def _dump(rows: sqlite3.Cursor) -> bytes:
    cells = [value if isinstance(value, bytes) else str(value).encode() for row in rows for value in row]
    return b"\t".join(cells)


def file_haystacks(data_dir: Path, secret_key_file: Path) -> Haystacks:
    """The raw bytes of every file under `data_dir` (database, -wal, -shm, mail.log...) but the key."""
    return {
        f"file {path.relative_to(data_dir)}": path.read_bytes()
        for path in sorted(data_dir.rglob("*"))
        if path.is_file() and path.resolve() != secret_key_file.resolve()
    }


def data_dir_haystacks(data_dir: Path, secret_key_file: Path) -> Haystacks:
    """The data directory's database tables and raw files (all but the key)."""
    return {**database_haystacks(data_dir), **file_haystacks(data_dir, secret_key_file)}


def log_haystacks(caplog: pytest.LogCaptureFixture) -> Haystacks:
    """Each captured log record: its formatted text (with any traceback) and all its attributes.

    aiosmtpd logs under "mail.log"; at DEBUG it writes the server side of the SMTP transcript,
    AUTH included. That is the test's sink, not the product, so its records are left out; every
    other logger (alertmail, aiosmtplib, aiosqlite, sqlalchemy, httpx, uvicorn...) is searched.
    """
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    return {
        f"log record {number} ({record.name})": formatter.format(record) + "\n" + repr(vars(record))
        for number, record in enumerate(caplog.records)
        if not record.name.startswith("mail.log")
    }


def record_responses(client: httpx.AsyncClient) -> Haystacks:
    """Keep the status line, headers and body of every response the client receives from now on."""
    responses: Haystacks = {}

    async def keep(response: httpx.Response) -> None:
        body = await response.aread()
        request = response.request
        headers = b"".join(name + b": " + value + b"\n" for name, value in response.headers.raw)
        status = f"{response.status_code} {request.method} {request.url}\n".encode()
        responses[f"response {len(responses) + 1} to {request.method} {request.url.path}"] = (
            status + headers + b"\n" + body
        )

    client.event_hooks["response"].append(keep)
    return responses
